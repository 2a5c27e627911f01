using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

internal static partial class Libc
{
    internal const int RLIMIT_NOFILE = 7;

    /// <summary>struct rlimit: soft and hard limit (rlim_t is 64-bit on x64 and arm64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "getrlimit", SetLastError = true)]
    internal static unsafe partial int GetRLimit(int resource, RLimit* limit);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "setrlimit", SetLastError = true)]
    internal static unsafe partial int SetRLimit(int resource, RLimit* limit);
}
