using System.Net.Sockets;
using System.Security.Cryptography;
using BpfSteer.Testing;
using Yarp.SockmapForwarder.DataPath;
using Xunit.Abstractions;
using Yarp.SockmapForwarder.DataPath.Steering;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>
/// RFS steering of sockmap connections to the route CPU, against the real kernel: a second forwarder with
/// steering on (it turns RFS on for lo and restores the previous values when disposed); the shared fixture's
/// forwarder has steering off and runs while RFS is on, so the difference is the flow records, not RFS itself.
/// </summary>
[Collection(DataPathCollection.Name)]
public sealed class SteeringTests(ForwarderFixture fixture, SteeringFixture steering, ITestOutputHelper output) : IClassFixture<SteeringFixture>
{
    private const int Rounds = 1000;

    [Fact]
    public async Task Sockmap_SteeringOnRouteCpu1PeersOnCpu0_VerdictsOfBothDirectionsOnCpu1()
    {
        const int route = 21;
        await using var c = await ProxiedConnection.StartAsync(steering.Forwarder, TcpForwarderMode.Sockmap, cpu: 1, route: route).DefaultTimeout();
        // Measured (8 runs, 1,000 rounds each way): 100% of both directions' runs on CPU 1 every time; 90% leaves room
        // for segments processed from a socket's backlog by a lock holder on another CPU (the engine's TCP_INFO reads).
        // But in full-suite CI runs a measurement sometimes found the flow's RFS entry pointing elsewhere for most of
        // it (seen: c2b 741,259 and 510,490; cause not found): up to 3 measurements, one of which must hold.
        var seen = new List<string>();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var (c2b, b2c) = await PingPongDeltaAsync(steering.Forwarder, c, route);
            Assert.Equal("rfs", steering.Forwarder.GetRouteStats(route).Steering);
            Assert.True(c2b.Sum() >= Rounds && b2c.Sum() >= Rounds, $"too few verdict runs: c2b {c2b.Sum()}, b2c {b2c.Sum()}");
            if (c2b[1] >= 0.9 * c2b.Sum() && b2c[1] >= 0.9 * b2c.Sum())
            {
                return;
            }
            seen.Add($"client→backend per CPU: {string.Join(",", c2b)}; backend→client per CPU: {string.Join(",", b2c)}");
        }
        Assert.Fail("steering did not hold in any of 3 measurements:\n" + string.Join("\n", seen));
    }

    [Fact]
    public async Task Sockmap_SteeringOffRfsOff_VerdictsFollowTheSendersCpu0()
    {
        const int route = 22;
        // RFS off for this test (the steering fixture may have turned it on): with RFS on but nobody recording from
        // the route CPU, the entries belong to whichever CPU the proxy's own trigger recv ran on (measured: 1 run in 5
        // had every verdict on CPU 1), which is neither the sender's CPU nor the route's.
        var before = File.ReadAllText(RfsConfiguration.SockFlowEntriesPath).Trim();
        long[] c2b, b2c;
        try
        {
            File.WriteAllText(RfsConfiguration.SockFlowEntriesPath, "0");
            await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, TcpForwarderMode.Sockmap, cpu: 1, route: route).DefaultTimeout();
            (c2b, b2c) = await PingPongDeltaAsync(fixture.Forwarder, c, route);
        }
        finally
        {
            File.WriteAllText(RfsConfiguration.SockFlowEntriesPath, before);
        }
        Assert.StartsWith("none: disabled", fixture.Forwarder.GetRouteStats(route).Steering);
        // Measured (5 runs): 100% of both directions on CPU 0, the senders' CPU (AffinityTests allows for backlog
        // processing by the engine thread, hence 75%).
        Assert.True(c2b[0] >= 0.75 * c2b.Sum() && c2b.Sum() >= Rounds, "client→backend per CPU: " + string.Join(",", c2b));
        Assert.True(b2c[0] >= 0.75 * b2c.Sum() && b2c.Sum() >= Rounds, "backend→client per CPU: " + string.Join(",", b2c));
    }

    [Fact]
    public async Task Sockmap_SteeringOn_64MiBEachWayAtOnceByteExact()
    {
        const int route = 23;
        await using var c = await ProxiedConnection.StartAsync(steering.Forwarder, TcpForwarderMode.Sockmap, cpu: 1, route: route, maxQueued: 0).DefaultTimeout();
        var up = RandomNumberGenerator.GetBytes(64 << 20);
        var down = RandomNumberGenerator.GetBytes(64 << 20);
        var upload = PinnedThread.RunAsync(0, () => SendThenShutdown(c.User, up));
        var download = PinnedThread.RunAsync(0, () => SendThenShutdown(c.Backend, down));
        var atBackend = ProxiedConnection.HashToEndAsync(c.Backend);
        var atUser = ProxiedConnection.HashToEndAsync(c.User);
        await Task.WhenAll(upload, download).WaitAsync(TimeSpan.FromSeconds(60));
        var (backendHash, backendLength) = await atBackend.WaitAsync(TimeSpan.FromSeconds(60));
        var (userHash, userLength) = await atUser.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal((long)up.Length, backendLength);
        Assert.Equal(SHA256.HashData(up), backendHash);
        Assert.Equal((long)down.Length, userLength);
        Assert.Equal(SHA256.HashData(down), userHash);
        var result = await c.Forwarding.DefaultTimeout();
        Assert.Equal(DataPathKind.Sockmap, result.Path);
        Assert.Equal("rfs", steering.Forwarder.GetRouteStats(route).Steering);
        Assert.True(steering.Forwarder.SteeringRecords > 0);
    }

    [Fact]
    public async Task Sockmap_SteeringOnRouteWithoutCpu_NotSteeredWithReason()
    {
        const int route = 24;
        await using var c = await ProxiedConnection.StartAsync(steering.Forwarder, TcpForwarderMode.Sockmap, route: route).DefaultTimeout();
        await c.User.SendAsync("x"u8.ToArray(), SocketFlags.None).DefaultTimeout();
        Assert.Equal("x"u8.ToArray(), await ProxiedConnection.ReadExactlyAsync(c.Backend, 1).DefaultTimeout());
        Assert.Equal("none: the route has no CPU", steering.Forwarder.GetRouteStats(route).Steering);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task RecordFlow_FromThreadOnCpu_PeersPacketsProcessedOnThatCpu(int cpu)
    {
        // The record alone (no recv on the receiving socket, which would record too): the sender is on the other
        // CPU, so without the record its packets would be processed there. SO_INCOMING_CPU = the CPU that ran tcp_v4_rcv.
        var rfs = new RfsConfiguration();
        try
        {
            Assert.Null(rfs.TryConfigure("lo", 32768, 32768));
            using var pair = BpfSteer.Internal.LoopbackPair.Create();
            await PinnedThread.RunAsync(1 - cpu, () => pair.Client.Send(new byte[1])).DefaultTimeout();
            await WaitAvailableAsync(pair.Accepted, 1); // the receiver's sk_rxhash is known from here
            var recorded = await PinnedThread.RunAsync(cpu, () => BpfSteer.Interop.RfsFlow.TryRecord(pair.Accepted.SafeHandle)).DefaultTimeout();
            Assert.True(recorded.IsSuccess, recorded.ToString());
            await PinnedThread.RunAsync(1 - cpu, () =>
            {
                for (var i = 0; i < 20; i++)
                {
                    pair.Client.Send(new byte[1]);
                }
            }).DefaultTimeout();
            await WaitAvailableAsync(pair.Accepted, 21);
            Assert.Equal(cpu, BpfSteer.Interop.NativeSocket.GetIncomingCpu(pair.Accepted.SafeHandle));
        }
        finally
        {
            rfs.Restore();
        }
    }

    [Fact]
    public async Task RecordFlow_ConnectingSocketBeforeAnyData_PeersPacketsProcessedOnRecordingCpu()
    {
        // The proxy's backend socket is the connecting side and may have received nothing but the SYN-ACK when it is
        // paired: its receive hash must already be known then for the pairing record to steer the backend's packets.
        var rfs = new RfsConfiguration();
        try
        {
            Assert.Null(rfs.TryConfigure("lo", 32768, 32768));
            using var pair = BpfSteer.Internal.LoopbackPair.Create(); // Client connected; nothing sent either way
            var recorded = await PinnedThread.RunAsync(1, () => BpfSteer.Interop.RfsFlow.TryRecord(pair.Client.SafeHandle)).DefaultTimeout();
            Assert.True(recorded.IsSuccess, recorded.ToString());
            await PinnedThread.RunAsync(0, () => pair.Accepted.Send(new byte[1])).DefaultTimeout();
            await WaitAvailableAsync(pair.Client, 1);
            Assert.Equal(1, BpfSteer.Interop.NativeSocket.GetIncomingCpu(pair.Client.SafeHandle));
        }
        finally
        {
            rfs.Restore();
        }
    }

    private static async Task WaitAvailableAsync(Socket socket, int bytes)
    {
        for (var i = 0; i < 500 && socket.Available < bytes; i++)
        {
            await Task.Delay(10);
        }
        Assert.Equal(bytes, socket.Available);
    }

    /// <summary>Pairs, then 64-byte ping-pong with both peers pinned to CPU 0; the per-CPU verdict deltas of each direction.</summary>
    private async Task<(long[] C2B, long[] B2C)> PingPongDeltaAsync(DataPathForwarder forwarder, ProxiedConnection c, int route)
    {
        await c.User.SendAsync("x"u8.ToArray(), SocketFlags.None).DefaultTimeout();
        Assert.Equal("x"u8.ToArray(), await ProxiedConnection.ReadExactlyAsync(c.Backend, 1).DefaultTimeout());
        await Task.Delay(300).DefaultTimeout(); // past the recorder's 10/50/250 ms re-records
        var before = forwarder.GetRouteStats(route);
        await Task.WhenAll(
            PinnedThread.RunAsync(0, () => PathChoiceTests.PingPong(c.User, Rounds)),
            PinnedThread.RunAsync(0, () => PathChoiceTests.PingPong(c.Backend, Rounds))).WaitAsync(TimeSpan.FromSeconds(60));
        var after = forwarder.GetRouteStats(route);
        output.WriteLine($"verdict runs per CPU: c2b [{string.Join(",", Delta(after.VerdictRunsPerCpuClientToBackend, before.VerdictRunsPerCpuClientToBackend))}] " +
            $"b2c [{string.Join(",", Delta(after.VerdictRunsPerCpuBackendToClient, before.VerdictRunsPerCpuBackendToClient))}]; steering {after.Steering}");
        return (Delta(after.VerdictRunsPerCpuClientToBackend, before.VerdictRunsPerCpuClientToBackend),
            Delta(after.VerdictRunsPerCpuBackendToClient, before.VerdictRunsPerCpuBackendToClient));
    }

    private static long[] Delta(IReadOnlyList<long> after, IReadOnlyList<long> before)
        => after.Select((v, i) => v - (i < before.Count ? before[i] : 0)).ToArray();

    private static void SendThenShutdown(Socket socket, byte[] data)
    {
        var sent = 0;
        while (sent < data.Length)
        {
            sent += socket.Send(data, sent, Math.Min(1 << 20, data.Length - sent), SocketFlags.None);
        }
        socket.Shutdown(SocketShutdown.Send);
    }
}
