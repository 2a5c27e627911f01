using System.Net.Sockets;
using BpfSteer.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using Yarp.SockmapForwarder.Internal;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

/// <summary>
/// Relayed connections moving between the TCP route loops (<see cref="TcpRouteLoop.MoveShare"/>): when the balancer
/// raises a CPU's spill share, that CPU's loop moves the same share of its relayed connections to the idler CPU's loop.
/// A move must lose, duplicate or reorder no byte, whatever the relay holds at that moment (bytes the destination did
/// not take yet, a bulk direction's pipe, a half-closed direction), and leave no registration behind.
/// </summary>
public class TcpRouteMoveTests(ITestOutputHelper output)
{
    [Fact]
    public async Task MoveShare_ConnectionsStreamingBothWaysWhileMovedBackAndForth_EveryByteArrivesInOrderAndEachEndsCompleted()
    {
        const int Clients = 8;
        const int Bytes = 32 * 1024 * 1024;
        await using var echo = new EchoServer();
        await using var proxy = await StartAsync(echo, ("r", null));
        var listeners = Listeners(proxy);
        var baseline = listeners.LoopRegistrations;
        Assert.Equal(2, listeners.Loops.Count);

        var clients = new List<Socket>();
        for (var i = 0; i < Clients; i++)
        {
            clients.Add(await Net.ConnectAsync(proxy.EndPoint("r")));
        }
        // Each connection relayed (both sockets registered) before the first move.
        await Poll.UntilAsync(() => listeners.Loops.Sum(l => l.ConnectionCount) == Clients, "every connection on a loop");
        // One move of everything first: the other loop then holds every connection and its sockets, and serves them.
        var loops = listeners.Loops.OrderBy(l => l.Cpu).ToArray();
        var (source, target) = loops[0].ConnectionCount > 0 ? (loops[0], loops[1]) : (loops[1], loops[0]);
        var sourceRegistrations = source.RegistrationCount;
        var targetRegistrations = target.RegistrationCount;
        var first = 0;
        await source.RunAsync(() => first = source.MoveShare(target, 1.0)).DefaultTimeout();
        await Poll.UntilAsync(() => target.ConnectionCount == Clients, "every connection adopted by the other loop");
        Assert.Equal(0, source.ConnectionCount);
        Assert.Equal(sourceRegistrations - 2 * first, source.RegistrationCount);
        Assert.Equal(targetRegistrations + 2 * first, target.RegistrationCount);
        foreach (var client in clients)
        {
            Assert.Equal(Net.Pattern(16), await Net.RoundTripAsync(client, Net.Pattern(16)));
        }

        using var done = new CancellationTokenSource();
        var mover = MoveBackAndForthAsync(listeners, done.Token);
        // Even clients write 1000-byte pieces (the copy path, with partial writes held by the relay); odd ones 64 KiB
        // pieces (a full read turns the direction bulk: it moves by splice through a pipe the relay carries along).
        var streams = clients.Select((c, i) => StreamAsync(c, Net.Pattern(Bytes, seed: 100 + i), i % 2 == 0 ? 1000 : 64 * 1024)).ToArray();
        await Task.WhenAll(streams).WithTimeout(TimeSpan.FromSeconds(120));
        done.Cancel();
        var (moves, rounds) = await mover.DefaultTimeout();
        moves += first;
        output.WriteLine($"{Clients} connections × {Bytes} bytes each way: {moves} moves in {rounds} rounds while the bytes flowed");

        Assert.InRange(moves, 2 * Clients, long.MaxValue); // every connection moved, on average at least twice, while its bytes flowed
        Assert.InRange(proxy.Status.Loops.Sum(l => l.MovedOut), moves, long.MaxValue); // and the balancer may have moved some too
        await AssertEndedCompletedAsync(proxy, Clients, 16 + Bytes, baseline);
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task MoveShare_RouteWithCpuSetting_ItsConnectionsStayOnItsLoop()
    {
        await using var echo = new EchoServer();
        await using var proxy = await StartAsync(echo, ("pinned", "0"), ("free", null)); // "free" starts CPU 1's loop
        var listeners = Listeners(proxy);
        var loops = listeners.Loops.OrderBy(l => l.Cpu).ToArray();
        Assert.Equal([0, 1], loops.Select(l => l.Cpu));

        using var client = await Net.ConnectAsync(proxy.EndPoint("pinned"));
        Assert.Equal(Net.Pattern(64), await Net.RoundTripAsync(client, Net.Pattern(64)));
        var moved = -1;
        await loops[0].RunAsync(() => moved = loops[0].MoveShare(loops[1], 1.0)).DefaultTimeout();

        Assert.Equal(0, moved);
        Assert.Equal(1, loops[0].ConnectionCount);
        Assert.Equal(0, loops[1].ConnectionCount);
        Assert.Equal(Net.Pattern(64, seed: 2), await Net.RoundTripAsync(client, Net.Pattern(64, seed: 2)));
    }

    /// <summary>
    /// The whole rule, end to end, as in the transport's spill-over test: 20 keep-alive connections open from CPU 0 while
    /// both CPUs are calm, so the selector gives them all to CPU 0's loop (no share yet); then a thread spinning on CPU 0
    /// leaves it no idle time while CPU 1 waits. The balancer raises CPU 0's share, and CPU 0's loop moves that share of
    /// the connections already open to CPU 1's loop; every connection still echoes exactly.
    /// </summary>
    [Fact]
    public async Task SpillRaised_KeepAliveConnectionsOnSaturatedCpu_ShareMovesToIdleLoopAndStillEchoes()
    {
        const int Clients = 20;
        await using var echo = new EchoServer();
        await using var proxy = await StartAsync(echo, ("r", null));
        using var metrics = new MetricsReader(proxy);
        var listeners = Listeners(proxy);
        var baseline = listeners.LoopRegistrations;
        var endPoint = proxy.EndPoint("r");
        var clients = await PinnedThread.RunAsync(0, () => Enumerable.Range(0, Clients).Select(_ =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            socket.Connect(endPoint); // from CPU 0: on loopback the SYN is received on the connecting CPU
            return socket;
        }).ToList()).DefaultTimeout();
        await Poll.UntilAsync(() => listeners.Loops.Sum(l => l.ConnectionCount) == Clients, "every connection on a loop");
        var onCpu0Before = Cpu0(listeners).ConnectionCount;
        var cpu1 = listeners.Loops.Single(l => l.Cpu == 1);
        output.WriteLine($"Before: {onCpu0Before} of {Clients} connections on CPU 0's loop");
        Assert.InRange(onCpu0Before, 2, Clients);

        using (Spinner.Start(cpu: 0))
        {
            await Poll.UntilAsync(() => Cpu0(listeners).MovedOut > 0, "CPU 0's loop to move connections to CPU 1's", TimeSpan.FromSeconds(30));
        }
        var movedOut = Cpu0(listeners).MovedOut;
        output.WriteLine($"Saturated: CPU 0's loop moved {movedOut} connections; now {Cpu0(listeners).ConnectionCount} on CPU 0, "
            + $"{Clients - Cpu0(listeners).ConnectionCount} on CPU 1");
        Assert.InRange(movedOut, 1, onCpu0Before);
        // Every move is an adoption by the other loop (which may have moved some back since).
        await Poll.UntilAsync(() => Cpu0(listeners).ConnectionCount == onCpu0Before - Cpu0(listeners).MovedOut + cpu1.MovedOut
            && cpu1.ConnectionCount == Clients - onCpu0Before + Cpu0(listeners).MovedOut - cpu1.MovedOut, "the moved connections on CPU 1's loop");
        Assert.Contains(proxy.Logs.WithEventId(113), e => (int)e.Values["Target"]! == 1);
        Assert.InRange(metrics.Read("yarp.sockmap.tcp.connections.moved", "cpu=0,target_cpu=1"), 1, movedOut); // the last move's count

        for (var i = 0; i < Clients; i++)
        {
            var data = Net.Pattern(4096, seed: i);
            Assert.Equal(data, await Net.RoundTripAsync(clients[i], data));
            clients[i].Shutdown(SocketShutdown.Send);
            Assert.True(await Net.ClosedWithinAsync(clients[i], TimeSpan.FromSeconds(10)));
            clients[i].Dispose();
        }
        await AssertEndedCompletedAsync(proxy, Clients, 4096, baseline);
    }

    private static TcpRouteLoop Cpu0(TcpRouteListeners listeners) => listeners.Loops.Single(l => l.Cpu == 0);

    private static TcpRouteListeners Listeners(ProxyApp proxy) => proxy.App.Services.GetRequiredService<TcpRouteListeners>();

    private static Task<ProxyApp> StartAsync(EchoServer echo, params (string Id, string? Cpu)[] routes)
    {
        var config = new ProxyConfig().Cluster("c", null, ("d1", echo.Address));
        foreach (var (id, cpu) in routes)
        {
            config = cpu is null
                ? config.Route(id, "c", settings: ("Mode", "UserSpace"))
                : config.Route(id, "c", settings: [("Mode", "UserSpace"), ("Cpu", cpu)]);
        }
        return ProxyApp.StartAsync(config, TransportKind.Sockets);
    }

    /// <summary>Moves every movable connection of the fuller loop to the other, again and again, until cancelled; returns the moves and rounds.</summary>
    private static async Task<(long Moves, int Rounds)> MoveBackAndForthAsync(TcpRouteListeners listeners, CancellationToken done)
    {
        long moves = 0;
        var rounds = 0;
        var loops = listeners.Loops.OrderBy(l => l.Cpu).ToArray();
        while (true)
        {
            var (from, to) = loops[0].ConnectionCount >= loops[1].ConnectionCount ? (loops[0], loops[1]) : (loops[1], loops[0]);
            if (done.IsCancellationRequested)
            {
                return (moves, rounds);
            }
            await from.RunAsync(() => moves += from.MoveShare(to, 1.0)).DefaultTimeout();
            rounds++;
            await Task.Delay(1);
        }
    }

    /// <summary>Sends <paramref name="data"/> in pieces, half-closes, and checks that the echo is the same bytes followed by the end of stream.</summary>
    private static async Task StreamAsync(Socket client, byte[] data, int piece)
    {
        var receive = Net.ReceiveExactlyAsync(client, data.Length);
        for (var offset = 0; offset < data.Length; offset += piece)
        {
            await client.SendAsync(data.AsMemory(offset, Math.Min(piece, data.Length - offset)), SocketFlags.None).DefaultTimeout();
        }
        client.Shutdown(SocketShutdown.Send);
        var echoed = await receive.WithTimeout(TimeSpan.FromSeconds(120));
        Assert.True(data.AsSpan().SequenceEqual(echoed), "the echoed bytes differ from those sent");
        Assert.True(await Net.ClosedWithinAsync(client, TimeSpan.FromSeconds(30)), "no end of stream after the echo");
    }

    private static async Task AssertEndedCompletedAsync(ProxyApp proxy, int clients, long bytesEachWay, int baselineRegistrations)
    {
        var listeners = Listeners(proxy);
        await Poll.UntilAsync(() => proxy.Status.Routes.Sum(r => r.ActiveConnections) == 0 && listeners.OpenConnections == 0, "every connection to end");
        await Poll.UntilAsync(() => listeners.LoopRegistrations == baselineRegistrations, $"the loops' registrations back to {baselineRegistrations}");
        await Poll.UntilAsync(() => proxy.Logs.AccessLog.Count() == clients, $"{clients} access-log lines");
        Assert.All(proxy.Logs.AccessLog, line =>
        {
            Assert.Equal("completed", line.Values["CloseReason"]);
            Assert.Equal(bytesEachWay, line.Values["BytesClientToBackend"]);
            Assert.Equal(bytesEachWay, line.Values["BytesBackendToClient"]);
        });
        proxy.Logs.AssertNoErrors();
    }
}
