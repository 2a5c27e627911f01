using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Interop;

/// <summary>
/// Records a TCP socket's flow in the kernel's RFS sock-flow table (<c>sock_rps_record_flow</c>: the entry for
/// <c>sk-&gt;sk_rxhash</c> gets the calling thread's CPU), so that packets of that flow are processed on this CPU
/// when RFS is configured (<c>net.core.rps_sock_flow_entries</c> and the rx queue's <c>rps_flow_cnt</c>).
/// The kernel records from recvmsg, sendmsg (inet_send_prepare) and the TCP_ZEROCOPY_RECEIVE getsockopt.
/// </summary>
internal static unsafe class RfsFlow
{
    /// <summary>linux/tcp.h.</summary>
    internal const int TCP_ZEROCOPY_RECEIVE = 35;

    /// <summary>
    /// getsockopt(TCP_ZEROCOPY_RECEIVE) with address 0 and an option length that ends at <c>length</c>: the kernel
    /// records the flow and returns without consuming a byte (fewer than a page queued: 0; more: EINVAL, because
    /// address 0 is no mapping of the socket) and — with that short option length — without reading
    /// <c>sk_err</c>. A zero-length send or recv records the flow too, but both clear a pending socket error
    /// (ECONNRESET would be lost to the engine that reads SO_ERROR) and send raises EPIPE after a half-close.
    /// </summary>
    public static PosixResult TryRecord(SafeHandle socket)
    {
        // struct tcp_zerocopy_receive { u64 address; u32 length; ... }: 12 bytes is the shortest accepted length.
        var zc = stackalloc byte[16];
        new Span<byte>(zc, 16).Clear();
        uint len = 12;
        int r;
        do { r = GetSockOpt(socket, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, zc, &len); } while (NativeSocket.Interrupted(r));
        var result = PosixResult.FromReturn(r);
        // EINVAL = data queued (a page or more), the flow was recorded before the address check.
        return result.Errno == Errno.EINVAL ? new PosixResult(0) : result;
    }

    /// <summary>Zero-length send (MSG_DONTWAIT | MSG_NOSIGNAL): records through inet_send_prepare; for measurements only.</summary>
    public static PosixResult TryRecordBySend(SafeHandle socket)
    {
        nint r;
        do { r = Libc.Send(socket, null, 0, MSG_DONTWAIT | MSG_NOSIGNAL); } while (NativeSocket.Interrupted(r));
        return PosixResult.FromReturn(r);
    }
}
