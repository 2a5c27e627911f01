namespace BpfSteer.Core.Tests;

/// <summary>The probe's answers on this machine (Linux 6.18, root, BPF enabled, no redirect-CPU kfunc).</summary>
public class KernelFeaturesTests
{
    private readonly KernelFeatureReport _report = KernelFeatures.Probe();

    [Fact]
    public void Probe_ThisMachine_SockmapAvailable()
        => Assert.True(_report.Sockmap.Available, _report.Sockmap.Detail);

    [Fact]
    public void Probe_ThisMachine_ReuseportSelectorsAvailable()
    {
        Assert.True(_report.ReuseportCbpf.Available, _report.ReuseportCbpf.Detail);
        Assert.True(_report.ReuseportEbpf.Available, _report.ReuseportEbpf.Detail);
    }

    [Fact]
    public void Probe_MainlineKernel_KfuncAbsentWithReason()
    {
        Assert.False(_report.RedirectCpuKfunc.Available);
        Assert.Contains(KernelFeatures.RedirectCpuKfuncName, _report.RedirectCpuKfunc.Detail);
        Assert.Contains("not in /sys/kernel/btf/vmlinux", _report.RedirectCpuKfunc.Detail);
    }

    [Fact]
    public void Probe_Root_HasCapabilities()
    {
        Assert.True(_report.CapBpf.Available, _report.CapBpf.Detail);
        Assert.True(_report.CapNetAdmin.Available, _report.CapNetAdmin.Detail);
        Assert.True(_report.CapPerfmon.Available, _report.CapPerfmon.Detail);
    }

    [Fact]
    public void Probe_TcpMigrateReq_MatchesSysctl()
    {
        var value = File.ReadAllText("/proc/sys/net/ipv4/tcp_migrate_req").Trim();
        Assert.Equal(value == "1", _report.TcpMigrateReq.Available);
        if (!_report.TcpMigrateReq.Available)
        {
            Assert.Contains("sysctl -w net.ipv4.tcp_migrate_req=1", _report.TcpMigrateReq.Detail);
        }
    }

    [Fact]
    public void Probe_All_ListsEveryFeatureOnceWithStableNames()
        => Assert.Equal(
            ["reuseportCbpf", "reuseportEbpf", "sockmap", "redirectCpuKfunc", "capBpf", "capNetAdmin", "capPerfmon", "tcpMigrateReq"],
            _report.All.Select(f => f.Name));

    [Fact]
    public void KernelBtf_ExistingKernelFunction_Found()
    {
        // Every kernel function has a BTF FUNC record; the kfunc probe uses the same look-up.
        var r = Interop.KernelBtf.TryFindFunction("tcp_v4_connect");
        Assert.True(r.IsSuccess, r.ToString());
        Assert.True(r.Value > 0);
    }
}
