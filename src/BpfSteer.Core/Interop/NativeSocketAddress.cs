using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Interop;

/// <summary>
/// Socket addresses without a <see cref="System.Net.Sockets.Socket"/>: accept4 that also returns the peer, and
/// getsockname/getpeername, decoded from sockaddr_in / sockaddr_in6 into <see cref="IPEndPoint"/>.
/// </summary>
internal static unsafe class NativeSocketAddress
{
    /// <summary>accept4 (SOCK_NONBLOCK|SOCK_CLOEXEC) that also decodes the peer address in the same syscall.</summary>
    public static PosixResult TryAccept(SafeHandle listener, out SafeFileDescriptorHandle? accepted, out IPEndPoint? remote)
    {
        byte* addr = stackalloc byte[SockAddrStorageBytes];
        uint len = SockAddrStorageBytes;
        int r;
        do { r = Accept4(listener, addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC); } while (NativeSocket.Interrupted(r));
        if (r < 0)
        {
            accepted = null;
            remote = null;
            return PosixResult.FromReturn(r);
        }
        accepted = new SafeFileDescriptorHandle(r, ownsHandle: true);
        remote = Decode(new ReadOnlySpan<byte>(addr, (int)Math.Min(len, SockAddrStorageBytes)));
        return new PosixResult(r);
    }

    /// <summary>getsockname: the local address of a bound or connected socket.</summary>
    public static IPEndPoint? GetLocal(SafeHandle socket)
    {
        byte* addr = stackalloc byte[SockAddrStorageBytes];
        uint len = SockAddrStorageBytes;
        var r = GetSockName(socket, addr, &len);
        return r == 0 ? Decode(new ReadOnlySpan<byte>(addr, (int)Math.Min(len, SockAddrStorageBytes))) : null;
    }

    /// <summary>Decodes sockaddr_in {u16 family; be16 port; u8 addr[4]} or sockaddr_in6 {family; port; u32 flow; u8 addr[16]; u32 scope}.</summary>
    internal static IPEndPoint? Decode(ReadOnlySpan<byte> sockaddr)
    {
        if (sockaddr.Length < 2)
        {
            return null;
        }
        var family = MemoryMarshal.Read<ushort>(sockaddr);
        if (family == AF_INET && sockaddr.Length >= 8)
        {
            return new IPEndPoint(new IPAddress(sockaddr.Slice(4, 4)), BinaryPrimitives.ReadUInt16BigEndian(sockaddr.Slice(2)));
        }
        if (family == AF_INET6 && sockaddr.Length >= 28)
        {
            var scope = MemoryMarshal.Read<uint>(sockaddr.Slice(24));
            var address = new IPAddress(sockaddr.Slice(8, 16), scope);
            return new IPEndPoint(address, BinaryPrimitives.ReadUInt16BigEndian(sockaddr.Slice(2)));
        }
        return null;
    }
}
