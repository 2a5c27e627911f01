using System.Net.Sockets;
using BpfSteer.Testing;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>The user-space path runs on the route's CPU; the sockmap path reports where its verdicts ran.</summary>
[Collection(DataPathCollection.Name)]
public sealed class AffinityTests(ForwarderFixture fixture)
{
    [Fact]
    public async Task UserSpace_RouteCpu1_SpliceThreadPinnedToCpu1()
    {
        await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, TcpForwarderMode.UserSpace, cpu: 1, route: 14).DefaultTimeout();
        await c.User.SendAsync("x"u8.ToArray(), SocketFlags.None).DefaultTimeout();
        Assert.Equal("x"u8.ToArray(), await ProxiedConnection.ReadExactlyAsync(c.Backend, 1).DefaultTimeout());
        var pinned = Directory.GetDirectories("/proc/self/task")
            .Where(t => File.ReadAllText(Path.Combine(t, "comm")).Trim() == "splice-cpu1")
            .Select(t => File.ReadAllLines(Path.Combine(t, "status")).Single(l => l.StartsWith("Cpus_allowed_list:")).Split(':')[1].Trim())
            .ToArray();
        Assert.Equal(["1"], pinned);
    }

    [Fact]
    public async Task Sockmap_ClientOnCpu1_VerdictDistributionExportedPerCpu()
    {
        await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, TcpForwarderMode.Sockmap, cpu: 1, route: 15).DefaultTimeout();
        await PinnedThread.RunAsync(1, () =>
        {
            c.User.Blocking = true;
            for (var i = 0; i < 500; i++)
            {
                c.User.Send(new byte[100]);
            }
        }).DefaultTimeout();
        await ProxiedConnection.ReadExactlyAsync(c.Backend, 50_000).DefaultTimeout();
        var stats = fixture.Forwarder.GetRouteStats(15);
        // Without the redirect-CPU kfunc the verdict runs where the client's packets are processed: the sender's CPU.
        Assert.True(stats.VerdictRunsPerCpuClientToBackend[1] >= 0.9 * stats.VerdictRunsPerCpuClientToBackend.Sum(),
            string.Join(",", stats.VerdictRunsPerCpuClientToBackend));
    }
}
