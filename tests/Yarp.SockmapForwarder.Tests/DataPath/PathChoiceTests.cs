using System.IO.Pipelines;
using System.Net.Sockets;
using BpfSteer;
using BpfSteer.Testing;
using Microsoft.Extensions.Logging;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>Which path a connection gets, and why; the reasons are what status pages and logs show.</summary>
[Collection(DataPathCollection.Name)]
public sealed class PathChoiceTests(ForwarderFixture fixture)
{
    [Fact]
    public void SockmapUsable_RootWithBpf_SelfTestPassed()
    {
        Assert.True(fixture.Forwarder.SockmapUsable);
        Assert.Contains("self-test passed", fixture.Forwarder.SockmapDetail);
        Assert.Contains("forward_verdict", fixture.Forwarder.SockmapDetail);
        Assert.Contains("retransmission overlaps are cut in the verdict", fixture.Forwarder.SockmapDetail);
        // The redirect-CPU kfunc is not in mainline kernels (docs/design.md, "CPU affinity: the redirect-CPU kfunc"):
        // the attached program matches the probe, and the detail says which one it is.
        Assert.Equal(KernelFeatures.Current.RedirectCpuKfunc.Available, fixture.Forwarder.Engine!.ProgramName == "forward_verdict_cpu");
        Assert.Contains(fixture.Logs.Entries, e => e.Id.Id == 4102);
    }

    [Fact]
    public async Task Choose_ModeUserSpaceOrPipeOnlyOrUnbounded_UserSpaceWithReason()
    {
        using var a = Pair();
        Assert.Equal(new ForwardingPath(DataPathKind.UserSpace, "the route's mode is UserSpace"), Decide(a, TcpForwarderMode.UserSpace, 4 << 20));
        Assert.Contains("queue bound", Decide(a, TcpForwarderMode.Auto, 0).Reason);
        Assert.Equal(DataPathKind.Sockmap, Decide(a, TcpForwarderMode.Sockmap, 0).Path);
        var pipe = new ForwardingRequest
        {
            Route = TestRoutes.Config("r", TcpForwarderMode.Sockmap, TimeSpan.Zero, 4 << 20), RouteIndex = 10, Backend = a.Backend,
            ClientPipe = new DuplexPipe(new Pipe().Reader, new Pipe().Writer),
        };
        Assert.Contains("no socket hand-off", fixture.Forwarder.Choose(pipe).Reason);
        await Task.CompletedTask;
    }

    [Fact]
    public void Choose_AutoWithDefaultOptions_SockmapWithTheBoundAndBudgetInTheReason()
    {
        using var forwarder = new DataPathForwarder(fixture.LoggerFactory, new SockmapForwarderOptions { RunSelfTest = false });
        using var a = Pair();
        var decision = forwarder.Choose(new ForwardingRequest
        {
            Route = TestRoutes.Config("r", TcpForwarderMode.Auto, TimeSpan.Zero, TcpRouteConfig.DefaultMaxQueuedBytes), RouteIndex = 10,
            ClientSocket = a.Client, Backend = a.Backend,
        });
        Assert.Equal(DataPathKind.Sockmap, decision.Path);
        Assert.Contains($"queue bound {TcpRouteConfig.DefaultMaxQueuedBytes} bytes", decision.Reason);
        Assert.Contains($"process budget {SockmapForwarderOptions.DefaultKernelQueueBudget} bytes", decision.Reason);
    }

    [Fact]
    public async Task ForwardAsync_SockmapFull_NextConnectionUsesUserSpaceAndBothAreByteExact()
    {
        using var forwarder = new DataPathForwarder(fixture.LoggerFactory, new SockmapForwarderOptions { SockmapCapacity = 1 });
        Assert.True(forwarder.SockmapUsable, forwarder.SockmapDetail);
        await using var first = await ProxiedConnection.StartAsync(forwarder, TcpForwarderMode.Sockmap, route: 16).DefaultTimeout();
        await first.User.SendAsync("1"u8.ToArray(), SocketFlags.None).DefaultTimeout();
        Assert.Equal("1"u8.ToArray(), await ProxiedConnection.ReadExactlyAsync(first.Backend, 1).DefaultTimeout());
        await using var second = await ProxiedConnection.StartAsync(forwarder, TcpForwarderMode.Sockmap, route: 16).DefaultTimeout();
        await second.User.SendAsync("2"u8.ToArray(), SocketFlags.None).DefaultTimeout();
        Assert.Equal("2"u8.ToArray(), await ProxiedConnection.ReadExactlyAsync(second.Backend, 1).DefaultTimeout());
        foreach (var c in new[] { first, second })
        {
            c.User.Shutdown(SocketShutdown.Send);
            c.Backend.Shutdown(SocketShutdown.Send);
        }
        Assert.Equal(DataPathKind.Sockmap, (await first.Forwarding.DefaultTimeout()).Path);
        Assert.Equal(DataPathKind.UserSpace, (await second.Forwarding.DefaultTimeout()).Path);
        Assert.Contains("full", forwarder.GetRouteStats(16).PathReason);
    }

    [Fact]
    public void Create_NoCapPerfmon_SockmapUnusableNamingIt()
    {
        // Without CAP_PERFMON the verdict cannot cut overlapping retransmissions (they would be forwarded twice).
        var real = KernelFeatures.Current;
        var noPerfmon = new KernelFeatureReport(real.ReuseportCbpf, real.ReuseportEbpf, real.Sockmap, real.RedirectCpuKfunc, real.CapBpf,
            real.CapNetAdmin, new KernelFeature("capPerfmon", false, "test: CAP_PERFMON is missing"), real.TcpMigrateReq);
        using var forwarder = new DataPathForwarder(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
            features: noPerfmon);

        Assert.False(forwarder.SockmapUsable);
        Assert.Contains("CAP_PERFMON", forwarder.SockmapDetail);
    }

    [Fact]
    public async Task ForwardAsync_SockmapProbeFailed_UserSpaceWithTheProbeReasonLoggedOnce()
    {
        var real = KernelFeatures.Current;
        var broken = new KernelFeatureReport(real.ReuseportCbpf, real.ReuseportEbpf,
            new KernelFeature("sockmap", false, "test: no sockhash here"), real.RedirectCpuKfunc, real.CapBpf, real.CapNetAdmin, real.CapPerfmon, real.TcpMigrateReq);
        var logs = new RecordingLoggerProvider();
        using var factory = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddProvider(logs));
        using var forwarder = new DataPathForwarder(factory, features: broken);
        Assert.False(forwarder.SockmapUsable);
        for (var i = 0; i < 2; i++)
        {
            await using var c = await ProxiedConnection.StartAsync(forwarder, TcpForwarderMode.Auto).DefaultTimeout();
            await c.User.SendAsync("x"u8.ToArray(), SocketFlags.None).DefaultTimeout();
            Assert.Equal("x"u8.ToArray(), await ProxiedConnection.ReadExactlyAsync(c.Backend, 1).DefaultTimeout());
            c.User.Shutdown(SocketShutdown.Send);
            c.Backend.Shutdown(SocketShutdown.Send);
            var result = await c.Forwarding.DefaultTimeout();
            Assert.Equal((DataPathKind.UserSpace, CloseReason.Completed), (result.Path, result.CloseReason));
        }
        Assert.Contains("test: no sockhash here", forwarder.GetRouteStats(1).PathReason);
        Assert.Single(logs.Entries, e => e.Id.Id == 4100); // the choice is logged once per route and reason
    }

    [Fact]
    public async Task Choose_AutoBothDirectionsVerdictsOnOneCpu_SwitchesRouteToUserSpace()
    {
        const int route = 11;
        using (var probe = Pair(route))
        {
            Assert.Equal(DataPathKind.Sockmap, Decide(probe, TcpForwarderMode.Auto, 4 << 20).Path); // nothing measured yet
        }
        // Client and backend both on CPU 0: both directions' verdicts run there (the sender's softirq on loopback).
        await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, TcpForwarderMode.Sockmap, route: route).DefaultTimeout();
        await Task.WhenAll(
            PinnedThread.RunAsync(0, () => PingPong(c.User, 2000)),
            PinnedThread.RunAsync(0, () => PingPong(c.Backend, 2000))).WithTimeout(TimeSpan.FromSeconds(60));
        var stats = fixture.Forwarder.GetRouteStats(route);
        Assert.True(stats.VerdictRunsPerCpuClientToBackend[0] > 0.9 * stats.VerdictRunsPerCpuClientToBackend.Sum());
        fixture.Forwarder.EvaluatePlacement(route);
        using var next = Pair(route);
        var decision = Decide(next, TcpForwarderMode.Auto, 4 << 20);
        Assert.Equal(DataPathKind.UserSpace, decision.Path);
        Assert.Contains("on CPU 0", decision.Reason);

        // Spread placement (client on CPU 0, backend on CPU 1): each direction's verdicts run on its sender's CPU,
        // the rule keeps the route on sockmap. It needs a second CPU.
        if (Environment.ProcessorCount < 2)
        {
            return;
        }
        const int spread = 12;
        await using var s = await ProxiedConnection.StartAsync(fixture.Forwarder, TcpForwarderMode.Sockmap, route: spread).DefaultTimeout();
        await Task.WhenAll(
            PinnedThread.RunAsync(0, () => PingPong(s.User, 2000)),
            PinnedThread.RunAsync(1, () => PingPong(s.Backend, 2000))).WithTimeout(TimeSpan.FromSeconds(60));
        fixture.Forwarder.EvaluatePlacement(spread);
        using var spreadNext = Pair(spread);
        Assert.Equal(DataPathKind.Sockmap, Decide(spreadNext, TcpForwarderMode.Auto, 4 << 20).Path);
    }

    /// <summary>Sends 64-byte messages and reads the peer's, alternating, on the calling (pinned) thread.</summary>
    internal static void PingPong(Socket socket, int rounds)
    {
        var buffer = new byte[64];
        socket.Blocking = true;
        for (var i = 0; i < rounds; i++)
        {
            socket.Send(buffer);
            var got = 0;
            while (got < buffer.Length)
            {
                var n = socket.Receive(buffer, got, buffer.Length - got, SocketFlags.None);
                Assert.True(n > 0);
                got += n;
            }
        }
    }

    private ForwardingPath Decide(LoopbackSockets pair, TcpForwarderMode mode, long maxQueued)
        => fixture.Forwarder.Choose(new ForwardingRequest
        {
            Route = TestRoutes.Config("r", mode, TimeSpan.Zero, maxQueued), RouteIndex = pair.Route, ClientSocket = pair.Client,
            Backend = pair.Backend,
        });

    private static LoopbackSockets Pair(int route = 10) => new(route);

    private sealed class LoopbackSockets : IDisposable
    {
        public LoopbackSockets(int route)
        {
            Route = route;
            Client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            Backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        }

        public int Route { get; }

        public Socket Client { get; }

        public Socket Backend { get; }

        public void Dispose()
        {
            Client.Dispose();
            Backend.Dispose();
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
