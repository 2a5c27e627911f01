using System.Runtime.InteropServices;
using BpfSteer.Internal;
using BpfSteer.Interop;

namespace BpfSteer;

/// <summary>
/// Probes what this kernel and process allow, by trying each feature for real (a reuseport group with a cBPF
/// program, a sockhash with an sk_skb verdict holding a TCP socket, a BTF look-up for the kfunc, ...).
/// </summary>
public static class KernelFeatures
{
    /// <summary>The name of the sockmap CPU-affinity kfunc looked up in the kernel BTF.</summary>
    public const string RedirectCpuKfuncName = "bpf_sk_skb_set_redirect_cpu";

    private static readonly Lazy<KernelFeatureReport> s_current = new(Probe);

    /// <summary>The report for this process, probed once on first use.</summary>
    public static KernelFeatureReport Current => s_current.Value;

    /// <summary>
    /// Probes every feature now. Never throws: a failure is an unavailable feature with its reason. On another OS, or
    /// on a processor architecture whose native layouts BpfSteer has not checked, every feature is unavailable and
    /// says why.
    /// </summary>
    public static KernelFeatureReport Probe() => ProbeOn(RuntimeInformation.ProcessArchitecture);

    internal static KernelFeatureReport ProbeOn(Architecture architecture)
    {
        if (!OperatingSystem.IsLinux())
        {
            return Unavailable("BpfSteer needs Linux; this is " + RuntimeInformation.OSDescription);
        }
        if (NativeAbi.Refusal(architecture, "BpfSteer") is { } refusal)
        {
            return Unavailable(refusal);
        }
        return new KernelFeatureReport(
            FeatureProbes.ReuseportCbpf(),
            FeatureProbes.ReuseportEbpf(),
            FeatureProbes.Sockmap(),
            FeatureProbes.RedirectCpuKfunc(RedirectCpuKfuncName),
            FeatureProbes.Capability("capBpf", Capabilities.CAP_BPF, "CAP_BPF"),
            FeatureProbes.Capability("capNetAdmin", Capabilities.CAP_NET_ADMIN, "CAP_NET_ADMIN"),
            FeatureProbes.Capability("capPerfmon", Capabilities.CAP_PERFMON, "CAP_PERFMON"),
            FeatureProbes.TcpMigrateReq());
    }

    private static KernelFeatureReport Unavailable(string reason)
    {
        var no = new KernelFeature("", false, reason);
        return new KernelFeatureReport(no with { Name = "reuseportCbpf" }, no with { Name = "reuseportEbpf" }, no with { Name = "sockmap" },
            no with { Name = "redirectCpuKfunc" }, no with { Name = "capBpf" }, no with { Name = "capNetAdmin" }, no with { Name = "capPerfmon" },
            no with { Name = "tcpMigrateReq" });
    }
}
