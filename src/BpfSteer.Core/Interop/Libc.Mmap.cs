using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

internal static partial class Libc
{
    internal const int PROT_READ = 0x1;
    internal const int PROT_WRITE = 0x2;
    internal const int MAP_SHARED = 0x01;
    internal static readonly nint MAP_FAILED = -1;

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint Mmap(nint addr, nuint length, int prot, int flags, SafeHandle fd, nint offset);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int Munmap(nint addr, nuint length);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "getpagesize")]
    internal static partial int GetPageSize();
}
