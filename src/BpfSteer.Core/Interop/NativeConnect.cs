using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Net;
using System.Net.Sockets;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Interop;

/// <summary>
/// Outgoing TCP connections without a <see cref="System.Net.Sockets.Socket"/>: a non-blocking stream socket and a
/// connect(2) that returns EINPROGRESS instead of waiting, for event loops that watch the socket for EPOLLOUT.
/// </summary>
internal static unsafe class NativeConnect
{
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
        int r;
        do { r = Libc.Connect(socket, addr, (uint)len); } while (NativeSocket.Interrupted(r));
        return PosixResult.FromReturn(r);
    }

    /// <summary>SO_LINGER {1, 0}: the next close() sends a RST instead of a FIN (how a reset is propagated).</summary>
    public static PosixResult TrySetResetOnClose(SafeHandle socket)
    {
        var linger = stackalloc int[2] { 1, 0 };
        int r;
        do { r = SetSockOpt(socket, SOL_SOCKET, SO_LINGER, linger, 2 * sizeof(int)); } while (NativeSocket.Interrupted(r));
        return PosixResult.FromReturn(r);
    }

    /// <summary>Writes sockaddr_in or sockaddr_in6 for <paramref name="endPoint"/>; returns its length.</summary>
    internal static int Encode(IPEndPoint endPoint, Span<byte> sockaddr)
    {
        if (endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            sockaddr[..16].Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(sockaddr, AF_INET);
            BinaryPrimitives.WriteUInt16BigEndian(sockaddr[2..], (ushort)endPoint.Port);
            endPoint.Address.TryWriteBytes(sockaddr.Slice(4, 4), out _);
            return 16;
        }
        sockaddr[..28].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(sockaddr, AF_INET6);
        BinaryPrimitives.WriteUInt16BigEndian(sockaddr[2..], (ushort)endPoint.Port);
        endPoint.Address.TryWriteBytes(sockaddr.Slice(8, 16), out _);
        BinaryPrimitives.WriteUInt32LittleEndian(sockaddr[24..], (uint)endPoint.Address.ScopeId);
        return 28;
    }
}
