using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using System.Net.Sockets;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Interop;

/// <summary>
/// Outgoing TCP connections without <see cref="System.Net.Sockets.Socket"/>: a socket made by the runtime's async
/// calls is registered in the runtime's own epoll set for good, and every later readiness event would wake its I/O
/// thread as well as the loop that owns the socket. These sockets are polled by one event loop only: a non-blocking
/// stream socket and a connect(2) that returns EINPROGRESS instead of waiting, then EPOLLOUT and SO_ERROR.
/// </summary>
internal static unsafe class NativeConnect
{
    /// <summary>
    /// Creates a non-blocking TCP socket (TCP_NODELAY set) and starts connecting it to <paramref name="endPoint"/>.
    /// Success with <paramref name="inProgress"/> means the connection completes later: wait for EPOLLOUT, then
    /// <see cref="TakeResult"/>.
    /// </summary>
    public static PosixResult TryStart(IPEndPoint endPoint, out SafeFileDescriptorHandle? socket, out bool inProgress)
    {
        socket = null;
        inProgress = false;
        var family = endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? AF_INET6 : AF_INET;
        var fd = Libc.Socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0)
        {
            return PosixResult.FromReturn(fd);
        }
        var handle = new SafeFileDescriptorHandle(fd, ownsHandle: true);
        NativeSocket.TrySetInt(handle, IPPROTO_TCP, TCP_NODELAY, 1);
        byte* addr = stackalloc byte[SockAddrStorageBytes];
        var length = Encode(endPoint, new Span<byte>(addr, SockAddrStorageBytes));
        // EINTR on a non-blocking connect means the attempt goes on asynchronously, as EINPROGRESS: never retry it.
        var r = Libc.Connect(handle, addr, (uint)length);
        if (r == 0)
        {
            socket = handle;
            return new PosixResult(0);
        }
        var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        if (errno is Errno.EINPROGRESS or Errno.EINTR)
        {
            socket = handle;
            inProgress = true;
            return new PosixResult(0);
        }
        handle.Dispose();
        return PosixResult.FromErrno(errno);
    }

    /// <summary>After EPOLLOUT on a connecting socket: 0 when connected, else the errno of the failed attempt.</summary>
    public static int TakeResult(SafeFileDescriptorHandle socket)
    {
        var r = NativeSocket.TryGetInt(socket, SOL_SOCKET, SO_ERROR);
        return r.IsSuccess ? r.IntValue : r.Errno;
    }

    /// <summary>socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0).</summary>
    public static PosixResult TryCreateStream(AddressFamily family, out SafeFileDescriptorHandle? socket)
    {
        var domain = family == AddressFamily.InterNetworkV6 ? AF_INET6 : AF_INET;
        var fd = Socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        socket = fd >= 0 ? new SafeFileDescriptorHandle(fd, ownsHandle: true) : null;
        return PosixResult.FromReturn(fd);
    }

    /// <summary>Starts connecting; success, or EINPROGRESS (wait for EPOLLOUT, then read SO_ERROR), or the failure.</summary>
    public static PosixResult TryConnect(SafeHandle socket, IPEndPoint remote)
    {
        byte* addr = stackalloc byte[SockAddrStorageBytes];
        var len = Encode(remote, new Span<byte>(addr, SockAddrStorageBytes));
        // EINTR on a non-blocking connect means the attempt goes on asynchronously: report it as EINPROGRESS, never retry
        // (a second connect() would fail with EALREADY).
        var result = PosixResult.FromReturn(Libc.Connect(socket, addr, (uint)len));
        return !result.IsSuccess && result.Errno == Errno.EINTR ? PosixResult.FromErrno(Errno.EINPROGRESS) : result;
    }

    /// <summary>SO_LINGER {1, 0}: the next close() sends a RST instead of a FIN (how a reset is propagated).</summary>
    public static PosixResult TrySetResetOnClose(SafeHandle socket)
    {
        var linger = stackalloc int[2] { 1, 0 };
        int r;
        do { r = SetSockOpt(socket, SOL_SOCKET, SO_LINGER, linger, 2 * sizeof(int)); } while (NativeSocket.Interrupted(r));
        return PosixResult.FromReturn(r);
    }

    /// <summary>Encodes sockaddr_in or sockaddr_in6 (the layouts <see cref="NativeSocketAddress.Decode"/> reads).</summary>
    internal static int Encode(IPEndPoint endPoint, Span<byte> sockaddr)
    {
        sockaddr.Clear();
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(sockaddr, AF_INET6);
            BinaryPrimitives.WriteUInt16BigEndian(sockaddr.Slice(2), (ushort)endPoint.Port);
            endPoint.Address.TryWriteBytes(sockaddr.Slice(8, 16), out _);
            BinaryPrimitives.WriteUInt32LittleEndian(sockaddr.Slice(24), (uint)endPoint.Address.ScopeId);
            return 28;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(sockaddr, AF_INET);
        BinaryPrimitives.WriteUInt16BigEndian(sockaddr.Slice(2), (ushort)endPoint.Port);
        endPoint.Address.TryWriteBytes(sockaddr.Slice(4, 4), out _);
        return 16;
    }
}
