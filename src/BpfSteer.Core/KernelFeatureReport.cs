namespace BpfSteer;

/// <summary>The answers of <see cref="KernelFeatures.Probe"/>, one property per feature.</summary>
public sealed class KernelFeatureReport
{
    internal KernelFeatureReport(
        KernelFeature reuseportCbpf, KernelFeature reuseportEbpf, KernelFeature sockmap, KernelFeature redirectCpuKfunc,
        KernelFeature capBpf, KernelFeature capNetAdmin, KernelFeature capPerfmon, KernelFeature tcpMigrateReq)
    {
        ReuseportCbpf = reuseportCbpf;
        ReuseportEbpf = reuseportEbpf;
        Sockmap = sockmap;
        RedirectCpuKfunc = redirectCpuKfunc;
        CapBpf = capBpf;
        CapNetAdmin = capNetAdmin;
        CapPerfmon = capPerfmon;
        TcpMigrateReq = tcpMigrateReq;
    }

    /// <summary>SO_ATTACH_REUSEPORT_CBPF on a reuseport group (the transport's CPU selector).</summary>
    public KernelFeature ReuseportCbpf { get; }

    /// <summary>eBPF <c>sk_reuseport</c> programs with a REUSEPORT_SOCKARRAY map.</summary>
    public KernelFeature ReuseportEbpf { get; }

    /// <summary>A sockhash with an sk_skb stream verdict program, holding a real TCP socket (the forwarder's data path).</summary>
    public KernelFeature Sockmap { get; }

    /// <summary>The <c>bpf_sk_skb_set_redirect_cpu</c> kfunc (sockmap CPU affinity; not in mainline kernels).</summary>
    public KernelFeature RedirectCpuKfunc { get; }

    /// <summary>CAP_BPF in the effective set (or CAP_SYS_ADMIN, which implies it).</summary>
    public KernelFeature CapBpf { get; }

    /// <summary>CAP_NET_ADMIN in the effective set (attaching programs to sockets and maps).</summary>
    public KernelFeature CapNetAdmin { get; }

    /// <summary>
    /// CAP_PERFMON in the effective set (or CAP_SYS_ADMIN): the verifier allows the sockmap verdict's reads of kernel
    /// structures (the peer's send queue, a retransmitted skb's sequence number) only with it. Without them the
    /// verdict would forward the repeated head of an overlapping retransmission twice, so the sockmap path needs it.
    /// </summary>
    public KernelFeature CapPerfmon { get; }

    /// <summary><c>net.ipv4.tcp_migrate_req</c> = 1: a closing listener's pending connections move to a sibling.</summary>
    public KernelFeature TcpMigrateReq { get; }

    /// <summary>Every feature, in a stable order.</summary>
    public IReadOnlyList<KernelFeature> All => [ReuseportCbpf, ReuseportEbpf, Sockmap, RedirectCpuKfunc, CapBpf, CapNetAdmin, CapPerfmon, TcpMigrateReq];
}
