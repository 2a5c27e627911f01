using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

internal static partial class Libc
{
    // Levels and options (socket(7), tcp(7)): the generic Linux numbers, the same on x64 and arm64.
    internal const int SOL_SOCKET = 1;
    internal const int IPPROTO_TCP = 6;
    internal const int SO_REUSEADDR = 2;
    internal const int SO_ERROR = 4;
    internal const int SO_SNDBUF = 7;
    internal const int SO_RCVBUF = 8;
    internal const int SO_SNDBUFFORCE = 32;
    internal const int SO_REUSEPORT = 15;
    internal const int SO_ATTACH_FILTER = 26;
    internal const int SO_INCOMING_CPU = 49;
    internal const int SO_ATTACH_REUSEPORT_CBPF = 51;
    internal const int SO_ATTACH_REUSEPORT_EBPF = 52;
    internal const int SO_DETACH_REUSEPORT_BPF = 68;
    internal const int SO_COOKIE = 57;
    internal const int TCP_NODELAY = 1;
    internal const int TCP_INFO = 11;

    internal const int SOCK_NONBLOCK = 0x800;
    internal const int SOCK_CLOEXEC = 0x80000;

    internal const int MSG_PEEK = 0x2;
    internal const int MSG_DONTWAIT = 0x40;
    internal const int MSG_NOSIGNAL = 0x4000;

    internal const int SHUT_RD = 0;
    internal const int SHUT_WR = 1;
    internal const int SHUT_RDWR = 2;

    internal const uint SIOCOUTQ = 0x5411;
    internal const uint SIOCINQ = 0x541B;

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "setsockopt", SetLastError = true)]
    internal static unsafe partial int SetSockOpt(SafeHandle socket, int level, int optname, void* optval, uint optlen);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "getsockopt", SetLastError = true)]
    internal static unsafe partial int GetSockOpt(SafeHandle socket, int level, int optname, void* optval, uint* optlen);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "accept4", SetLastError = true)]
    internal static unsafe partial int Accept4(SafeHandle socket, byte* addr, uint* addrlen, int flags);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "recv", SetLastError = true)]
    internal static unsafe partial nint Recv(SafeHandle socket, byte* buffer, nuint length, int flags);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "send", SetLastError = true)]
    internal static unsafe partial nint Send(SafeHandle socket, byte* buffer, nuint length, int flags);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "shutdown", SetLastError = true)]
    internal static partial int Shutdown(SafeHandle socket, int how);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
    internal static unsafe partial int Ioctl(SafeHandle fd, nuint request, int* value);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "listen", SetLastError = true)]
    internal static partial int Listen(SafeHandle socket, int backlog);
}
