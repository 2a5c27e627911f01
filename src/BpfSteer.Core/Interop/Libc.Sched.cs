using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

internal static partial class Libc
{
    /// <summary>Size in bytes of the cpu_set_t we pass (1024 CPUs, as glibc's default).</summary>
    internal const int CpuSetBytes = 128;

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "sched_setaffinity", SetLastError = true)]
    internal static unsafe partial int SchedSetAffinity(int pid, nuint cpusetsize, byte* mask);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "sched_getaffinity", SetLastError = true)]
    internal static unsafe partial int SchedGetAffinity(int pid, nuint cpusetsize, byte* mask);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "sched_getcpu", SetLastError = true)]
    internal static partial int SchedGetCpu();

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "gettid")]
    internal static partial int GetTid();
}
