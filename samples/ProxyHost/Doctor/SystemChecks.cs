using System.Globalization;
using BpfSteer;
using ProxyHost.Hosting;

namespace ProxyHost.Doctor;

/// <summary>
/// Kernel features, capabilities and sysctls, judged against what the configuration asks for: a missing feature is a
/// failure only when a setting needs it (Mode=Sockmap, a port below 1024); otherwise it is a warning with its fallback.
/// </summary>
internal static class SystemChecks
{
    public static IEnumerable<DoctorCheck> Run(IReadOnlyList<TcpRouteSettings> tcpRoutes, IReadOnlyList<int> listenPorts)
    {
        var kernel = KernelFeatures.Probe();
        var forcedSockmap = tcpRoutes.Where(r => string.Equals(r.Mode, "Sockmap", StringComparison.OrdinalIgnoreCase)).Select(r => r.Id).ToList();
        var pinnedRoutes = tcpRoutes.Where(r => r.CpuOrNull is not null).Select(r => r.Id).ToList();

        yield return kernel.ReuseportCbpf.Available
            ? DoctorCheck.Ok("kernel", $"reuseportCbpf: {kernel.ReuseportCbpf.Detail}")
            : DoctorCheck.Fail("kernel", $"reuseportCbpf: {kernel.ReuseportCbpf.Detail} The transport's CPU selector cannot attach.",
                "Use a kernel with SO_ATTACH_REUSEPORT_CBPF (Linux >= 4.5), or turn the selector off in the transport options.");
        yield return kernel.ReuseportEbpf.Available
            ? DoctorCheck.Ok("kernel", $"reuseportEbpf: {kernel.ReuseportEbpf.Detail}")
            : DoctorCheck.Warn("kernel", $"reuseportEbpf: {kernel.ReuseportEbpf.Detail}", "Only needed for the eBPF selector; the cBPF selector is the default.");

        if (kernel.Sockmap.Available)
        {
            yield return DoctorCheck.Ok("kernel", $"sockmap: {kernel.Sockmap.Detail}");
        }
        else if (forcedSockmap.Count > 0)
        {
            yield return DoctorCheck.Fail("kernel", $"sockmap: {kernel.Sockmap.Detail} TCP routes with Mode=Sockmap cannot start: {string.Join(", ", forcedSockmap)}.",
                "Run as root or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (deploy/bpfsteer-proxyhost.service), or set Mode to Auto or UserSpace on those routes.");
        }
        else
        {
            yield return DoctorCheck.Warn("kernel", $"sockmap: {kernel.Sockmap.Detail} TCP routes fall back to the user-space path.",
                "Run as root or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (systemd: AmbientCapabilities=CAP_BPF CAP_NET_ADMIN CAP_PERFMON).");
        }

        if (tcpRoutes.Count > 0)
        {
            yield return DataPathCheck.Run(forcedSockmap);
        }

        var kfunc = kernel.RedirectCpuKfunc;
        yield return kfunc.Available || pinnedRoutes.Count == 0
            ? DoctorCheck.Ok("kernel", $"redirectCpuKfunc: {kfunc.Detail}{(kfunc.Available ? "" : " Not needed: no TCP route requests a CPU.")}")
            : DoctorCheck.Warn("kernel", $"redirectCpuKfunc: {kfunc.Detail} Routes with a Cpu ({string.Join(", ", pinnedRoutes)}) rely on steering where packets are received.",
                "Compare requested and observed CPU on /bpfsteer; for loopback clients enable RPS on lo (see the rps check).");

        foreach (var (feature, cap) in new[] { (kernel.CapBpf, "CAP_BPF"), (kernel.CapNetAdmin, "CAP_NET_ADMIN"), (kernel.CapPerfmon, "CAP_PERFMON") })
        {
            if (feature.Available)
            {
                yield return DoctorCheck.Ok("capability", feature.Detail);
            }
            else if (forcedSockmap.Count > 0)
            {
                yield return DoctorCheck.Fail("capability", $"{feature.Detail} Needed by the Mode=Sockmap routes {string.Join(", ", forcedSockmap)}.",
                    $"Run as root, or systemd: AmbientCapabilities={cap} (see deploy/bpfsteer-proxyhost.service).");
            }
            else
            {
                yield return DoctorCheck.Warn("capability", $"{feature.Detail} Without it TCP routes use the user-space path.",
                    $"Run as root, or systemd: AmbientCapabilities={cap}.");
            }
        }

        yield return LowPorts(listenPorts);
        yield return TcpMigrateReq(kernel.TcpMigrateReq);
        yield return Rps(pinnedRoutes);
    }

    private static DoctorCheck LowPorts(IReadOnlyList<int> listenPorts)
    {
        var start = int.TryParse(ProcessInfo.ReadTrimmed("/proc/sys/net/ipv4/ip_unprivileged_port_start"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 1024;
        var low = listenPorts.Where(p => p > 0 && p < start).Distinct().Order().ToList();
        if (low.Count == 0)
        {
            return DoctorCheck.Ok("capability", $"No listen port below {start} (net.ipv4.ip_unprivileged_port_start): CAP_NET_BIND_SERVICE not needed.");
        }
        return BpfSteer.Internal.Capabilities.Has(BpfSteer.Internal.Capabilities.CAP_NET_BIND_SERVICE)
            ? DoctorCheck.Ok("capability", $"CAP_NET_BIND_SERVICE is in the effective set: ports {string.Join(", ", low)} can be bound.")
            : DoctorCheck.Fail("capability", $"Ports {string.Join(", ", low)} are below {start} and CAP_NET_BIND_SERVICE is missing: binding them fails.",
                "Run as root, or systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE, or use ports >= 1024.");
    }

    private static DoctorCheck TcpMigrateReq(KernelFeature feature) => feature.Available
        ? DoctorCheck.Ok("sysctl", feature.Detail)
        : DoctorCheck.Warn("sysctl", feature.Detail,
            "sysctl -w net.ipv4.tcp_migrate_req=1 && echo net.ipv4.tcp_migrate_req=1 > /etc/sysctl.d/90-bpfsteer.conf");

    // On loopback the softirq runs on the sender's CPU (docs/design.md, "CPU affinity: where the sockmap work runs");
    // RPS/RFS on lo is the knob that moves it.
    private static DoctorCheck Rps(List<string> pinnedRoutes)
    {
        var rps = ProcessInfo.ReadTrimmed("/sys/class/net/lo/queues/rx-0/rps_cpus") ?? "unreadable";
        var flowEntries = ProcessInfo.ReadTrimmed("/proc/sys/net/core/rps_sock_flow_entries") ?? "unreadable";
        var flowCnt = ProcessInfo.ReadTrimmed("/sys/class/net/lo/queues/rx-0/rps_flow_cnt") ?? "unreadable";
        var enabled = rps.Trim('0', ',').Length > 0;
        var finding = $"RPS on lo: rps_cpus={rps}; RFS: net.core.rps_sock_flow_entries={flowEntries}, lo rps_flow_cnt={flowCnt}.";
        if (enabled || pinnedRoutes.Count == 0)
        {
            return DoctorCheck.Ok("sysctl", finding + (enabled ? "" : " Not needed: no TCP route requests a CPU."));
        }
        var mask = ProcessInfo.AllowedCpus().Aggregate(0UL, (m, cpu) => cpu < 64 ? m | (1UL << cpu) : m);
        return DoctorCheck.Warn("sysctl", finding + $" Routes {string.Join(", ", pinnedRoutes)} request a CPU; loopback traffic is processed on the sender's CPU without RPS.",
            $"echo {mask:x} > /sys/class/net/lo/queues/rx-0/rps_cpus; sysctl -w net.core.rps_sock_flow_entries=32768; echo 32768 > /sys/class/net/lo/queues/rx-0/rps_flow_cnt");
    }
}
