using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BpfSteer.Interop;
using BpfSteer.Testing;

namespace BpfSteer.Core.Tests;

/// <summary>Every struct shared with C, checked against the C compiler's view of the real headers.</summary>
public class StructLayoutTests
{
    [Fact]
    public unsafe void SockFilterAndFprog_MatchLinuxFilterH()
    {
        var c = CLayout.Evaluate("#include <linux/filter.h>",
            "sizeof(struct sock_filter)", "sizeof(struct sock_fprog)", "offsetof(struct sock_fprog, filter)", "offsetof(struct sock_filter, k)",
            "SKF_AD_OFF + SKF_AD_CPU", "BPF_LD | BPF_W | BPF_ABS", "BPF_ALU | BPF_MOD | BPF_K", "BPF_RET | BPF_A");
        Assert.Equal(c[0], sizeof(SockFilter));
        Assert.Equal(c[1], sizeof(SockFprog));
        Assert.Equal(c[2], Marshal.OffsetOf<SockFprog>(nameof(SockFprog.Filter)).ToInt64());
        Assert.Equal(c[3], Marshal.OffsetOf<SockFilter>(nameof(SockFilter.K)).ToInt64());
        Assert.Equal(unchecked((int)SockFilter.SKF_AD_CPU_OFFSET), c[4]); // SKF_AD_OFF is a negative int in C
        Assert.Equal(SockFilter.BPF_LD | SockFilter.BPF_W | SockFilter.BPF_ABS, c[5]);
        Assert.Equal(SockFilter.BPF_ALU | SockFilter.BPF_MOD | SockFilter.BPF_K, c[6]);
        Assert.Equal(SockFilter.BPF_RET | SockFilter.BPF_A, c[7]);
    }

    [Fact]
    public unsafe void EpollEvent_MatchesSysEpollH()
    {
        var c = CLayout.Evaluate("#include <sys/epoll.h>", "sizeof(struct epoll_event)", "offsetof(struct epoll_event, data)",
            "EPOLLRDHUP", "EPOLL_CLOEXEC");
        Assert.Equal(c[0], sizeof(Libc.EpollEvent));
        Assert.Equal(c[1], Marshal.OffsetOf<Libc.EpollEvent>(nameof(Libc.EpollEvent.Data)).ToInt64());
        Assert.Equal(Libc.EPOLLRDHUP, c[2]);
        Assert.Equal(Libc.EPOLL_CLOEXEC, c[3]);
    }

    [Fact]
    public void TcpInfo_OffsetsMatchLinuxTcpH()
    {
        var c = CLayout.Evaluate("#include <linux/tcp.h>",
            "offsetof(struct tcp_info, tcpi_snd_cwnd)", "offsetof(struct tcp_info, tcpi_bytes_acked)",
            "offsetof(struct tcp_info, tcpi_bytes_received)", "TCP_INFO");
        Assert.Equal(c[0], Marshal.OffsetOf<TcpInfo>(nameof(TcpInfo.SndCwnd)).ToInt64());
        Assert.Equal(c[1], Marshal.OffsetOf<TcpInfo>(nameof(TcpInfo.BytesAcked)).ToInt64());
        Assert.Equal(c[2], Marshal.OffsetOf<TcpInfo>(nameof(TcpInfo.BytesReceived)).ToInt64());
        Assert.Equal(Libc.TCP_INFO, c[3]);
    }

    [Fact]
    public void SocketConstants_MatchAsmSocketH()
    {
        var c = CLayout.Evaluate("#include <sys/socket.h>\n#include <sys/ioctl.h>\n#include <linux/sockios.h>\n#include <fcntl.h>",
            "SO_REUSEPORT", "SO_INCOMING_CPU", "SO_ATTACH_REUSEPORT_CBPF", "SO_ATTACH_REUSEPORT_EBPF", "SO_COOKIE",
            "SIOCINQ", "SIOCOUTQ", "MSG_NOSIGNAL", "MSG_DONTWAIT", "SOCK_NONBLOCK", "SOCK_CLOEXEC", "SPLICE_F_NONBLOCK");
        long[] ours = [Libc.SO_REUSEPORT, Libc.SO_INCOMING_CPU, Libc.SO_ATTACH_REUSEPORT_CBPF, Libc.SO_ATTACH_REUSEPORT_EBPF, Libc.SO_COOKIE,
            Libc.SIOCINQ, Libc.SIOCOUTQ, Libc.MSG_NOSIGNAL, Libc.MSG_DONTWAIT, Libc.SOCK_NONBLOCK, Libc.SOCK_CLOEXEC, Libc.SPLICE_F_NONBLOCK];
        Assert.Equal(c, ours);
    }

    [Fact]
    public void BpfEnums_MatchLinuxBpfH()
    {
        var c = CLayout.Evaluate("#include <linux/bpf.h>",
            "BPF_PROG_TYPE_SK_SKB", "BPF_PROG_TYPE_SK_REUSEPORT", "BPF_MAP_TYPE_SOCKHASH", "BPF_MAP_TYPE_SOCKMAP",
            "BPF_MAP_TYPE_REUSEPORT_SOCKARRAY", "BPF_MAP_TYPE_PERCPU_ARRAY", "BPF_SK_SKB_STREAM_VERDICT", "BPF_SK_SKB_VERDICT",
            "BPF_SK_REUSEPORT_SELECT_OR_MIGRATE");
        long[] ours = [Libbpf.BPF_PROG_TYPE_SK_SKB, Libbpf.BPF_PROG_TYPE_SK_REUSEPORT, Libbpf.BPF_MAP_TYPE_SOCKHASH, Libbpf.BPF_MAP_TYPE_SOCKMAP,
            Libbpf.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, Libbpf.BPF_MAP_TYPE_PERCPU_ARRAY, Libbpf.BPF_SK_SKB_STREAM_VERDICT, Libbpf.BPF_SK_SKB_VERDICT,
            Libbpf.BPF_SK_REUSEPORT_SELECT_OR_MIGRATE];
        Assert.Equal(c, ours);
    }
}
