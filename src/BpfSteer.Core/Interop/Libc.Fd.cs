using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

internal static partial class Libc
{
    [LibraryImport(NativeLibraries.Libc, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "read", SetLastError = true)]
    internal static unsafe partial nint Read(SafeHandle fd, byte* buffer, nuint count);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "write", SetLastError = true)]
    internal static unsafe partial nint Write(SafeHandle fd, byte* buffer, nuint count);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "pipe2", SetLastError = true)]
    internal static unsafe partial int Pipe2(int* fds, int flags);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initval, int flags);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "splice", SetLastError = true)]
    internal static partial nint Splice(SafeHandle fdIn, nint offIn, SafeHandle fdOut, nint offOut, nuint len, uint flags);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(SafeHandle fd, int cmd, int arg);

    internal const int O_NONBLOCK = 0x800;
    internal const int O_CLOEXEC = 0x80000;
    internal const int EFD_NONBLOCK = 0x800;
    internal const int EFD_CLOEXEC = 0x80000;
    internal const uint SPLICE_F_MOVE = 1;
    internal const uint SPLICE_F_NONBLOCK = 2;
    internal const uint SPLICE_F_MORE = 4;
    internal const int F_SETPIPE_SZ = 1031;
    internal const int F_GETPIPE_SZ = 1032;
}
