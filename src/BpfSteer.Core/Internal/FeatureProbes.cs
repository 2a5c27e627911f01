using System.Net;
using System.Net.Sockets;
using BpfSteer.Interop;
using static BpfSteer.Interop.Libbpf;

namespace BpfSteer.Internal;

/// <summary>The individual probes behind <see cref="KernelFeatures.Probe"/>; each tries the real thing.</summary>
internal static class FeatureProbes
{
    // eBPF: r0 = 1 (SK_PASS); exit.
    private static readonly ulong[] s_returnPass = [0xb7UL | (1UL << 32), 0x95UL];

    public static KernelFeature ReuseportCbpf()
    {
        const string name = "reuseportCbpf";
        try
        {
            using var a = ReuseportListener(0);
            using var b = ReuseportListener(((IPEndPoint)a.LocalEndPoint!).Port);
            var r = NativeSocket.TryAttachReuseportCbpf(b.SafeHandle, ReuseportCpuProgram.Build([0, 1]));
            return r.IsSuccess
                ? new KernelFeature(name, true, "setsockopt(SO_ATTACH_REUSEPORT_CBPF) on a 2-socket reuseport group succeeded.")
                : new KernelFeature(name, false, $"setsockopt(SO_ATTACH_REUSEPORT_CBPF) failed: {r}.");
        }
        catch (Exception ex)
        {
            return new KernelFeature(name, false, $"Creating a reuseport group on 127.0.0.1 failed: {ex.Message}");
        }
    }

    public static KernelFeature ReuseportEbpf()
    {
        const string name = "reuseportEbpf";
        var prog = ProbeProgType(BPF_PROG_TYPE_SK_REUSEPORT, 0);
        if (prog != 1)
        {
            return new KernelFeature(name, false, $"libbpf_probe_bpf_prog_type(SK_REUSEPORT) = {prog}{Describe(prog)}.");
        }
        var map = ProbeMapType(BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 0);
        return map == 1
            ? new KernelFeature(name, true, "sk_reuseport programs and REUSEPORT_SOCKARRAY maps load.")
            : new KernelFeature(name, false, $"libbpf_probe_bpf_map_type(REUSEPORT_SOCKARRAY) = {map}{Describe(map)}.");
    }

    public static KernelFeature Sockmap()
    {
        const string name = "sockmap";
        try
        {
            var map = BpfMap.Create(BPF_MAP_TYPE_SOCKHASH, "probe_sockhash", sizeof(ulong), sizeof(ulong), 4);
            using var mapFd = map.Fd;
            var load = BpfProgram.TryLoadRaw(BPF_PROG_TYPE_SK_SKB, "probe_verdict", s_returnPass, out var program);
            if (!load.IsSuccess)
            {
                return new KernelFeature(name, false, $"Loading an sk_skb program failed: {load}{Hint(load.Errno)}.");
            }
            using (program)
            {
                var attach = BpfProgram.TryAttach(program!, map.Fd, BPF_SK_SKB_STREAM_VERDICT);
                if (!attach.IsSuccess)
                {
                    return new KernelFeature(name, false, $"Attaching an sk_skb stream verdict to a sockhash failed: {attach}{Hint(attach.Errno)}.");
                }
                using var pair = LoopbackPair.Create();
                var key = 1UL;
                var insert = map.TryInsertSocket(key, pair.Accepted.SafeHandle);
                if (!insert.IsSuccess)
                {
                    return new KernelFeature(name, false, $"Inserting an established TCP socket into the sockhash failed: {insert}{Hint(insert.Errno)}.");
                }
                map.TryDelete(key);
                return new KernelFeature(name, true, "A sockhash with an sk_skb stream verdict accepted an established TCP socket.");
            }
        }
        catch (Exception ex)
        {
            return new KernelFeature(name, false, $"Creating a sockhash failed: {ex.Message}");
        }
    }

    public static KernelFeature RedirectCpuKfunc(string kfunc)
    {
        const string name = "redirectCpuKfunc";
        try
        {
            var r = KernelBtf.TryFindFunction(kfunc);
            if (r.IsSuccess)
            {
                return new KernelFeature(name, true, $"{kfunc} is in the kernel BTF (id {r.Value}).");
            }
            return r.Errno == Interop.Errno.ENOENT
                ? new KernelFeature(name, false, $"{kfunc} is not in /sys/kernel/btf/vmlinux: this kernel lacks the sockmap CPU-affinity patch set (not in mainline).")
                : new KernelFeature(name, false, $"Reading the kernel BTF failed: {r}.");
        }
        catch (Exception ex)
        {
            return new KernelFeature(name, false, $"Reading the kernel BTF failed: {ex.Message}");
        }
    }

    public static KernelFeature Capability(string name, int capability, string capName)
    {
        // CAP_SYS_ADMIN implies CAP_BPF and CAP_PERFMON for the verifier (bpf_capable(), perfmon_capable()).
        var has = Capabilities.Has(capability)
            || ((capability is Capabilities.CAP_BPF or Capabilities.CAP_PERFMON) && Capabilities.Has(Capabilities.CAP_SYS_ADMIN));
        return has
            ? new KernelFeature(name, true, $"{capName} is in the effective capability set.")
            : new KernelFeature(name, false, $"{capName} is missing from the effective capability set: run as root or add it (systemd: AmbientCapabilities={capName}).");
    }

    public static KernelFeature TcpMigrateReq()
    {
        const string name = "tcpMigrateReq";
        const string path = "/proc/sys/net/ipv4/tcp_migrate_req";
        try
        {
            var value = File.ReadAllText(path).Trim();
            return value == "1"
                ? new KernelFeature(name, true, "net.ipv4.tcp_migrate_req = 1: pending connections of a closing listener move to a sibling.")
                : new KernelFeature(name, false, $"net.ipv4.tcp_migrate_req = {value}: a closing listener resets its pending connections. Fix: sysctl -w net.ipv4.tcp_migrate_req=1 (or use the eBPF selector, which migrates).");
        }
        catch (Exception ex)
        {
            return new KernelFeature(name, false, $"Reading {path} failed: {ex.Message}");
        }
    }

    private static Socket ReuseportListener(int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        NativeSocket.SetInt(s.SafeHandle, Libc.SOL_SOCKET, Libc.SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
        s.Bind(new IPEndPoint(IPAddress.Loopback, port));
        s.Listen(8);
        return s;
    }

    private static string Describe(int ret) => ret < 0 ? $" ({PosixResult.FromErrno(-ret)})" : "";

    private static string Hint(int errno) => errno is Interop.Errno.EPERM or Interop.Errno.EACCES
        ? " — the process lacks CAP_BPF/CAP_NET_ADMIN/CAP_PERFMON"
        : "";
}
