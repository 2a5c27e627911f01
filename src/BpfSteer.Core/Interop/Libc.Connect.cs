using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

internal static partial class Libc
{
    internal const int SOCK_STREAM = 1;

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "connect", SetLastError = true)]
    internal static unsafe partial int Connect(SafeHandle socket, byte* addr, uint addrlen);
}
