using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using BpfSteer.Testing;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>Resets, a killed backend, the idle timeout and cancellation, on both paths.</summary>
[Collection(DataPathCollection.Name)]
public sealed class LifecycleTests(ForwarderFixture fixture)
{
    public static TheoryData<TcpForwarderMode> BothPaths => IntegrityTests.BothPaths;

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_ClientResets_BackendGetsResetAndResultSaysSo(TcpForwarderMode mode)
    {
        await using var c = await Established(mode);
        c.User.LingerState = new LingerOption(true, 0);
        c.User.Close();
        var ex = await Assert.ThrowsAsync<SocketException>(async () => await ProxiedConnection.ReadToEndAsync(c.Backend).DefaultTimeout());
        Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
        Assert.Equal(CloseReason.ClientReset, (await c.Forwarding.DefaultTimeout()).CloseReason);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_BackendResets_ClientGetsReset(TcpForwarderMode mode)
    {
        await using var c = await Established(mode);
        c.Backend.LingerState = new LingerOption(true, 0);
        c.Backend.Close();
        var ex = await Assert.ThrowsAsync<SocketException>(async () => await ProxiedConnection.ReadToEndAsync(c.User).DefaultTimeout());
        Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
        Assert.Equal(CloseReason.BackendReset, (await c.Forwarding.DefaultTimeout()).CloseReason);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_BackendKilledMidStream_ClientGetsResetAndResultSaysSo(TcpForwarderMode mode)
    {
        await using var c = await Established(mode);
        using var stop = new CancellationTokenSource();
        var streaming = Task.Run(async () =>
        {
            var chunk = RandomNumberGenerator.GetBytes(64 * 1024);
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await c.Backend.SendAsync(chunk, SocketFlags.None, stop.Token);
                }
            }
            catch (Exception)
            {
                // the kill below
            }
        });
        // The client reads a little and then stops, so the backend dies with unread data: a real crash sends RST.
        await ProxiedConnection.ReadExactlyAsync(c.User, 256 * 1024).DefaultTimeout();
        stop.Cancel();
        c.Backend.LingerState = new LingerOption(true, 0);
        c.Backend.Close();
        // The reset is propagated, not left to a timer: the client's read ends in ECONNRESET (the route's idle timeout,
        // 60 s, is longer than the test's own timeout, so nothing else could end it first).
        var ex = await Assert.ThrowsAsync<SocketException>(async () => await ProxiedConnection.ReadToEndAsync(c.User).DefaultTimeout());
        Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
        await streaming.DefaultTimeout();
        Assert.Equal(CloseReason.BackendReset, (await c.Forwarding.DefaultTimeout()).CloseReason);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_NoTrafficForIdleTimeout_BothSidesClosed(TcpForwarderMode mode)
    {
        await using var c = await Established(mode, idle: TimeSpan.FromMilliseconds(400));
        var clock = Stopwatch.StartNew();
        var result = await c.Forwarding.DefaultTimeout();
        Assert.Equal(CloseReason.IdleTimeout, result.CloseReason);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(150), $"closed as idle after {clock.Elapsed.TotalMilliseconds:F0} ms of a 400 ms timeout");
        Assert.Empty(await ProxiedConnection.ReadToEndAsync(c.User).DefaultTimeout());
        Assert.Empty(await ProxiedConnection.ReadToEndAsync(c.Backend).DefaultTimeout());
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_Cancelled_BothSidesResetAndResultAborted(TcpForwarderMode mode)
    {
        using var cts = new CancellationTokenSource();
        await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, mode, cancellationToken: cts.Token).DefaultTimeout();
        await Exchange(c);
        cts.Cancel();
        Assert.Equal(CloseReason.Aborted, (await c.Forwarding.DefaultTimeout()).CloseReason);
        await Assert.ThrowsAsync<SocketException>(async () => await ProxiedConnection.ReadToEndAsync(c.User).DefaultTimeout());
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_PingPong1KiB_NoReplyWaitsOnACork(TcpForwarderMode mode)
    {
        // Interactive traffic must not wait on a cork (MSG_MORE) or a tick. A corked reply waits for the cork's timer
        // (hundreds of ms), so 300 corked round trips take minutes; all 300 must fit in the test's one timeout.
        await using var c = await Established(mode);
        var request = new byte[1024];
        async Task RoundTripsAsync()
        {
            for (var i = 0; i < 300; i++)
            {
                await c.User.SendAsync(request, SocketFlags.None);
                var got = await ProxiedConnection.ReadExactlyAsync(c.Backend, 1024);
                await c.Backend.SendAsync(got, SocketFlags.None);
                await ProxiedConnection.ReadExactlyAsync(c.User, 1024);
            }
        }
        await RoundTripsAsync().DefaultTimeout();
    }

    private async Task<ProxiedConnection> Established(TcpForwarderMode mode, TimeSpan? idle = null)
    {
        var c = await ProxiedConnection.StartAsync(fixture.Forwarder, mode, idleTimeout: idle).DefaultTimeout();
        await Exchange(c);
        return c;
    }

    /// <summary>One round trip each way, so the connection is paired (sockmap) or registered (splice).</summary>
    private static async Task Exchange(ProxiedConnection c)
    {
        await c.User.SendAsync("ping"u8.ToArray(), SocketFlags.None).DefaultTimeout();
        Assert.Equal("ping"u8.ToArray(), await ProxiedConnection.ReadExactlyAsync(c.Backend, 4).DefaultTimeout());
        await c.Backend.SendAsync("pong"u8.ToArray(), SocketFlags.None).DefaultTimeout();
        Assert.Equal("pong"u8.ToArray(), await ProxiedConnection.ReadExactlyAsync(c.User, 4).DefaultTimeout());
    }
}
