using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

internal static partial class Libc
{
    internal const ushort AF_INET = 2;
    internal const ushort AF_INET6 = 10;

    /// <summary>Size of struct sockaddr_storage: large enough for any address family.</summary>
    internal const int SockAddrStorageBytes = 128;

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "getsockname", SetLastError = true)]
    internal static unsafe partial int GetSockName(SafeHandle socket, byte* addr, uint* addrlen);
}
