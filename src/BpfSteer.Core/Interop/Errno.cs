using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

/// <summary>errno values used by name in this code base (the generic Linux numbers: x64 and arm64).</summary>
internal static class Errno
{
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int EBADF = 9;
    internal const int EAGAIN = 11;
    internal const int ENOMEM = 12;
    internal const int EACCES = 13;
    internal const int EEXIST = 17;
    internal const int EINVAL = 22;
    internal const int ENOSPC = 28;
    internal const int EPIPE = 32;
    internal const int ENOSYS = 38;
    internal const int ENOTSUP = 95;
    internal const int EOPNOTSUPP = 95;
    internal const int EADDRINUSE = 98;
    internal const int EADDRNOTAVAIL = 99;
    internal const int ENETUNREACH = 101;
    internal const int ECONNABORTED = 103;
    internal const int ECONNRESET = 104;
    internal const int ENOTCONN = 107;
    internal const int ETIMEDOUT = 110;
    internal const int ECONNREFUSED = 111;
    internal const int EHOSTUNREACH = 113;
    internal const int EINPROGRESS = 115;
}

internal static partial class Libc
{
    [LibraryImport(NativeLibraries.Libc, EntryPoint = "strerror")]
    private static partial nint StrErrorNative(int errnum);

    /// <summary>The C library's text for an errno value.</summary>
    internal static string StrError(int errno)
        => Marshal.PtrToStringUTF8(StrErrorNative(errno)) ?? $"errno {errno}";
}
