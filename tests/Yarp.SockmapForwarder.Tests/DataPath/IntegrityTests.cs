using System.Net.Sockets;
using System.Security.Cryptography;
using BpfSteer.Testing;
using Microsoft.Extensions.Logging;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>The integrity suite both data paths must pass, against real loopback sockets.</summary>
[Collection(DataPathCollection.Name)]
public sealed class IntegrityTests(ForwarderFixture fixture)
{
    public static TheoryData<TcpForwarderMode> BothPaths => new() { TcpForwarderMode.Sockmap, TcpForwarderMode.UserSpace };

    private static DataPathKind PathOf(TcpForwarderMode mode) => mode == TcpForwarderMode.Sockmap ? DataPathKind.Sockmap : DataPathKind.UserSpace;

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_ClientFirstEarlyDataWithPreamble_ArrivesOnceInOrder(TcpForwarderMode mode)
    {
        var early = RandomNumberGenerator.GetBytes(5000);
        await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, mode,
            beforeForwarding: async (user, _) => await ProxiedConnection.SendAllAsync(user, early),
            preamble: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"u8.ToArray(), buffered: "GET "u8.ToArray()).DefaultTimeout();
        var more = RandomNumberGenerator.GetBytes(3000);
        await ProxiedConnection.SendAllAsync(c.User, more).DefaultTimeout();
        // A FIN before pairing sends the connection to user space: a socket in CLOSE_WAIT cannot enter a sockmap
        // (docs/design.md, "Sockmap: only established sockets enter"). Here we want the paired case.
        await WaitPairedAsync(mode);
        c.User.Shutdown(SocketShutdown.Send);
        var got = await ProxiedConnection.ReadToEndAsync(c.Backend).DefaultTimeout();
        byte[] expected = [.. "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"u8, .. "GET "u8, .. early, .. more];
        Assert.Equal(expected, got);
        c.Backend.Shutdown(SocketShutdown.Send);
        Assert.Empty(await ProxiedConnection.ReadToEndAsync(c.User).DefaultTimeout());
        var result = await c.Forwarding.DefaultTimeout();
        Assert.Equal(PathOf(mode), result.Path);
        Assert.Equal(CloseReason.Completed, result.CloseReason);
        Assert.Equal(4 + early.Length + more.Length, result.BytesClientToBackend);
        AssertNoErrors();
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_ServerFirstEarlyData_ClientGetsGreetingThenReplies(TcpForwarderMode mode)
    {
        var greeting = "220 smtp.example ESMTP ready\r\n"u8.ToArray();
        await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, mode,
            beforeForwarding: async (_, backend) => await ProxiedConnection.SendAllAsync(backend, greeting)).DefaultTimeout();
        Assert.Equal(greeting, await ProxiedConnection.ReadExactlyAsync(c.User, greeting.Length).DefaultTimeout());
        await ProxiedConnection.SendAllAsync(c.User, "EHLO me\r\n"u8.ToArray()).DefaultTimeout();
        Assert.Equal("EHLO me\r\n"u8.ToArray(), await ProxiedConnection.ReadExactlyAsync(c.Backend, 9).DefaultTimeout());
        c.User.Shutdown(SocketShutdown.Send);
        c.Backend.Shutdown(SocketShutdown.Send);
        var result = await c.Forwarding.DefaultTimeout();
        Assert.Equal(PathOf(mode), result.Path);
        Assert.Equal(CloseReason.Completed, result.CloseReason);
    }

    [Fact]
    public async Task Forward_ClientFinishedBeforePairing_FallsBackToUserSpaceWithEveryByte()
    {
        var request = RandomNumberGenerator.GetBytes(1000);
        await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, TcpForwarderMode.Sockmap,
            beforeForwarding: async (user, _) =>
            {
                await ProxiedConnection.SendAllAsync(user, request);
                user.Shutdown(SocketShutdown.Send); // the proxy's socket is in CLOSE_WAIT: it cannot enter a sockmap
                await Task.Delay(20);
            }).DefaultTimeout();
        Assert.Equal(request, await ProxiedConnection.ReadToEndAsync(c.Backend).DefaultTimeout());
        var reply = RandomNumberGenerator.GetBytes(70_000);
        await ProxiedConnection.SendAllAsync(c.Backend, reply).DefaultTimeout();
        c.Backend.Shutdown(SocketShutdown.Send);
        Assert.Equal(reply, await ProxiedConnection.ReadToEndAsync(c.User).DefaultTimeout());
        var result = await c.Forwarding.DefaultTimeout();
        Assert.Equal((DataPathKind.UserSpace, CloseReason.Completed, 1000L, 70_000L), (result.Path, result.CloseReason, result.BytesClientToBackend, result.BytesBackendToClient));
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_PreambleLargerThanBackendBuffers_ReturnsAtOnceThenDeliversEveryByte(TcpForwarderMode mode)
    {
        // 8 MiB of preamble cannot fit into a backend that does not read yet (its send buffer and receive window are far
        // smaller): set-up has to wait for room, and must do it without holding the caller's thread, which on a TCP
        // route is a loop serving other connections.
        var preamble = RandomNumberGenerator.GetBytes(8 << 20);
        var buffered = RandomNumberGenerator.GetBytes(1000);
        var (user, pc, pb, backend) = await ProxiedConnection.ConnectAsync();
        using var userSocket = user;
        using var backendSocket = backend;
        var request = new ForwardingRequest
        {
            Route = TestRoutes.Config("route1", mode, TimeSpan.FromSeconds(60), 4 << 20), RouteIndex = 1,
            ClientSocket = pc, Backend = pb, BackendPreamble = preamble, ClientBufferedData = buffered,
        };

        var forwarding = fixture.Forwarder.ForwardAsync(request, CancellationToken.None);

        Assert.False(forwarding.IsCompleted, "ForwardAsync must return while the backend has not read the preamble yet");
        var head = await ProxiedConnection.ReadExactlyAsync(backend, preamble.Length + buffered.Length).DefaultTimeout();
        Assert.True(head.AsSpan().SequenceEqual([.. preamble, .. buffered]), "the preamble and the buffered bytes arrive first, in order");
        await WaitPairedAsync(mode);
        var upload = RandomNumberGenerator.GetBytes(100_000);
        var reply = RandomNumberGenerator.GetBytes(70_000);
        await ProxiedConnection.SendAllAsync(user, upload).DefaultTimeout();
        user.Shutdown(SocketShutdown.Send);
        Assert.Equal(upload, await ProxiedConnection.ReadToEndAsync(backend).DefaultTimeout());
        await ProxiedConnection.SendAllAsync(backend, reply).DefaultTimeout();
        backend.Shutdown(SocketShutdown.Send);
        Assert.Equal(reply, await ProxiedConnection.ReadToEndAsync(user).DefaultTimeout());
        var result = await forwarding.DefaultTimeout();
        Assert.Equal((PathOf(mode), CloseReason.Completed, buffered.Length + (long)upload.Length, (long)reply.Length),
            (result.Path, result.CloseReason, result.BytesClientToBackend, result.BytesBackendToClient));
        AssertNoErrors();
    }

    [Fact]
    public async Task Forward_StoppedWhileEarlyDataWaitsForRoom_EndsAbortedAndResetsBothSides()
    {
        var (user, pc, pb, backend) = await ProxiedConnection.ConnectAsync();
        using var userSocket = user;
        using var backendSocket = backend;
        using var stop = new CancellationTokenSource();
        var request = new ForwardingRequest
        {
            Route = TestRoutes.Config("route1", TcpForwarderMode.Sockmap, TimeSpan.FromSeconds(60), 4 << 20), RouteIndex = 1,
            ClientSocket = pc, Backend = pb, BackendPreamble = RandomNumberGenerator.GetBytes(8 << 20),
        };

        var forwarding = fixture.Forwarder.ForwardAsync(request, stop.Token);
        Assert.False(forwarding.IsCompleted, "the backend does not read: set-up must be waiting for room");
        stop.Cancel(); // the server stops: a waiting set-up must not hold on until its 5 s limit

        var result = await forwarding.DefaultTimeout();
        Assert.Equal(CloseReason.Aborted, result.CloseReason);
        var clientEnd = await Record.ExceptionAsync(() => ProxiedConnection.ReadToEndAsync(user).DefaultTimeout());
        Assert.True(clientEnd is null or SocketException, $"the client's connection ends (reset or end of stream), got {clientEnd}");
        AssertNoErrors();
    }

    private async Task WaitPairedAsync(TcpForwarderMode mode)
    {
        for (var i = 0; mode == TcpForwarderMode.Sockmap && fixture.Forwarder.ActiveSockmapConnections == 0 && i < 2000; i++)
        {
            await Task.Delay(1);
        }
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_ClientHalfCloses_BackendSeesEveryByteThenEofAndItsTailStillFlows(TcpForwarderMode mode)
    {
        await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, mode).DefaultTimeout();
        var up = RandomNumberGenerator.GetBytes(16 << 20);
        var readUp = ProxiedConnection.HashToEndAsync(c.Backend);
        await ProxiedConnection.SendAllAsync(c.User, up).DefaultTimeout();
        c.User.Shutdown(SocketShutdown.Send);
        var (hash, length) = await readUp.DefaultTimeout();
        Assert.Equal(up.Length, length);
        Assert.Equal(SHA256.HashData(up), hash);
        // After the half-close the other direction keeps flowing (docs/design.md, "Sockmap: half-close barrier").
        var tail = RandomNumberGenerator.GetBytes(4 << 20);
        var readDown = ProxiedConnection.HashToEndAsync(c.User);
        await ProxiedConnection.SendAllAsync(c.Backend, tail).DefaultTimeout();
        c.Backend.Shutdown(SocketShutdown.Send);
        var down = await readDown.DefaultTimeout();
        Assert.Equal(SHA256.HashData(tail), down.Hash);
        var result = await c.Forwarding.DefaultTimeout();
        Assert.Equal(CloseReason.Completed, result.CloseReason);
        Assert.Equal(up.Length, result.BytesClientToBackend);
        Assert.Equal(tail.Length, result.BytesBackendToClient);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_BackendHalfCloses_ClientSeesEveryByteThenEofAndItsTailStillFlows(TcpForwarderMode mode)
    {
        await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, mode).DefaultTimeout();
        var down = RandomNumberGenerator.GetBytes(16 << 20);
        var readDown = ProxiedConnection.HashToEndAsync(c.User);
        await ProxiedConnection.SendAllAsync(c.Backend, down).DefaultTimeout();
        c.Backend.Shutdown(SocketShutdown.Send);
        Assert.Equal(SHA256.HashData(down), (await readDown.DefaultTimeout()).Hash);
        var tail = RandomNumberGenerator.GetBytes(1 << 20);
        var readUp = ProxiedConnection.HashToEndAsync(c.Backend);
        await ProxiedConnection.SendAllAsync(c.User, tail).DefaultTimeout();
        c.User.Shutdown(SocketShutdown.Send);
        Assert.Equal(SHA256.HashData(tail), (await readUp.DefaultTimeout()).Hash);
        Assert.Equal(CloseReason.Completed, (await c.Forwarding.DefaultTimeout()).CloseReason);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_BothDirectionsAtOnce_ByteExact(TcpForwarderMode mode)
    {
        await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, mode).DefaultTimeout();
        var up = RandomNumberGenerator.GetBytes(64 << 20);
        var down = RandomNumberGenerator.GetBytes(64 << 20);
        var readUp = ProxiedConnection.HashToEndAsync(c.Backend);
        var readDown = ProxiedConnection.HashToEndAsync(c.User);
        await Task.WhenAll(
            Task.Run(async () => { await ProxiedConnection.SendAllAsync(c.User, up); c.User.Shutdown(SocketShutdown.Send); }),
            Task.Run(async () => { await ProxiedConnection.SendAllAsync(c.Backend, down); c.Backend.Shutdown(SocketShutdown.Send); })).DefaultTimeout();
        Assert.Equal(SHA256.HashData(up), (await readUp.DefaultTimeout()).Hash);
        Assert.Equal(SHA256.HashData(down), (await readDown.DefaultTimeout()).Hash);
        var result = await c.Forwarding.DefaultTimeout();
        Assert.Equal(PathOf(mode), result.Path);
        Assert.Equal((CloseReason.Completed, (long)up.Length, (long)down.Length), (result.CloseReason, result.BytesClientToBackend, result.BytesBackendToClient));
    }

    private void AssertNoErrors()
        => Assert.DoesNotContain(fixture.Logs.Entries, e => e.Level >= LogLevel.Error);
}
