using ProxyHost.Tests.Infrastructure;

namespace ProxyHost.Tests;

/// <summary>deploy/bpfsteer-proxyhost.service: a unit systemd accepts, granting what ProxyHost needs and no more.</summary>
public sealed class DeployUnitTests
{
    private static readonly string Unit = Path.Combine(ProxyHostProcess.RepoRoot, "deploy", "bpfsteer-proxyhost.service");

    [Fact]
    public async Task SystemdAnalyzeVerify_ExampleUnit_HasNoErrors()
    {
        var (code, stdout, stderr) = await Clients.RunAsync("systemd-analyze", "verify", Unit);
        Assert.True(code == 0, $"systemd-analyze verify exited {code}: {stdout}{stderr}");
        Assert.Equal("", stderr.Trim());
    }

    [Fact]
    public void Unit_Capabilities_AmbientBpfNetAdminNetBindServiceOnly()
    {
        var lines = File.ReadAllLines(Unit);
        Assert.Contains("AmbientCapabilities=CAP_BPF CAP_NET_ADMIN CAP_PERFMON CAP_NET_BIND_SERVICE", lines);
        Assert.Contains("CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_PERFMON CAP_NET_BIND_SERVICE", lines);
        Assert.Contains(lines, l => l.StartsWith("User=", StringComparison.Ordinal) && l != "User=root");
        Assert.Contains(lines, l => l.StartsWith("ExecStartPre=", StringComparison.Ordinal) && l.Contains("ProxyHost.dll doctor --config"));
    }
}
