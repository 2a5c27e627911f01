using System.Net;
using System.Net.Sockets;
using BpfSteer.Interop;
using Microsoft.Extensions.DependencyInjection;
using Yarp.SockmapForwarder.DataPath;
using Yarp.SockmapForwarder.Internal;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

/// <summary>
/// Bad backends and bad clients, 10,000 connections each, through a TCP route's own loops: afterwards no descriptor,
/// sockmap entry, tracked connection or destination count may be left behind.
/// </summary>
public class TcpRouteFaultTests
{
    private const int Connections = 10_000;
    private const int Parallel = 64;

    [Fact]
    public async Task RefusedBackend_10000Connections_NothingLeftBehind()
    {
        var config = new ProxyConfig().Route("r", "c").Cluster("c", null, ("down", ProxyConfig.Tcp(Net.ClosedPort())));
        await using var proxy = await ProxyApp.StartAsync(config);
        var baseline = await WarmUpAsync(proxy);

        await RunAsync(Connections, async _ =>
        {
            using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
            Assert.True(await Net.ClosedWithinAsync(client, TimeSpan.FromSeconds(10)), "the client of a refused backend was not closed");
        });

        await AssertNothingLeftAsync(proxy, baseline, "c");
        await AssertEveryConnectionClosedAsync(proxy, Connections + 1, "no-destination");
    }

    /// <summary>The backend accepts and never answers (nor reads): the idle timeout must end every connection.</summary>
    [Theory]
    [InlineData(TcpForwarderMode.Auto)]
    [InlineData(TcpForwarderMode.Sockmap)]
    public async Task SilentBackend_10000Connections_IdleTimeoutLeavesNothingBehind(TcpForwarderMode mode)
    {
        await using var silent = new SilentBackend();
        var config = new ProxyConfig().Route("r", "c", settings: [("Mode", mode.ToString()), ("IdleTimeout", "00:00:00.1")])
            .Cluster("c", null, ("silent", silent.Address));
        await using var proxy = await ProxyApp.StartAsync(config);
        var baseline = await WarmUpAsync(proxy);

        await RunAsync(Connections, async i =>
        {
            using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
            await client.SendAsync(new byte[] { (byte)i }, SocketFlags.None).DefaultTimeout();
            if (i % 2 == 0)
            {
                client.Shutdown(SocketShutdown.Send); // half of them half-close: the backend still never answers
            }
            Assert.True(await Net.ClosedWithinAsync(client, TimeSpan.FromSeconds(10)), "the idle connection was not closed");
        }, parallel: 256);

        await silent.DisposeAsync(); // the backend's own sockets are not the proxy's: release them before counting
        await AssertNothingLeftAsync(proxy, baseline, "c", sockmap: mode == TcpForwarderMode.Sockmap);
        await AssertEveryConnectionClosedAsync(proxy, Connections + 1, "idle-timeout");
    }

    /// <summary>The backend never completes the handshake (its accept queue is full): the connect timeout ends every attempt.</summary>
    [Fact]
    public async Task UnreachableBackend_10000Connections_ConnectTimeoutLeavesNothingBehind()
    {
        using var blackHole = FullListener(out var address, out var queued);
        var config = new ProxyConfig().Route("r", "c", settings: [("ConnectTimeout", "00:00:00.1"), ("IdleTimeout", "00:00:00.2")])
            .Cluster("c", null, ("hole", address));
        await using var proxy = await ProxyApp.StartAsync(config);
        var baseline = await WarmUpAsync(proxy);

        await RunAsync(Connections, async _ =>
        {
            using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
            Assert.True(await Net.ClosedWithinAsync(client, TimeSpan.FromSeconds(10)), "the connection to a black hole was not closed");
        }, parallel: 256);

        queued.ForEach(s => s.Dispose());
        await AssertNothingLeftAsync(proxy, baseline, "c");
        await AssertEveryConnectionClosedAsync(proxy, Connections + 1, "no-destination");
    }

    /// <summary>Clients reset while the route is still connecting to a backend that never answers the handshake.</summary>
    [Fact]
    public async Task ClientResetsDuringConnect_10000Connections_NothingLeftBehind()
    {
        using var blackHole = FullListener(out var address, out var queued);
        var config = new ProxyConfig().Route("r", "c", settings: ("ConnectTimeout", "00:00:30")).Cluster("c", null, ("hole", address));
        await using var proxy = await ProxyApp.StartAsync(config);
        var baseline = Baseline.Take(proxy);

        await RunAsync(Connections, async i =>
        {
            var client = await Net.ConnectAsync(proxy.EndPoint("r"));
            if (i % 2 == 0)
            {
                await Task.Delay(1); // give the route time to start its connect
            }
            client.LingerState = new LingerOption(true, 0);
            client.Dispose(); // RST
        }, parallel: 128);

        queued.ForEach(s => s.Dispose());
        await AssertNothingLeftAsync(proxy, baseline, "c");
        // A client that resets while the route's accept queue is full never reaches the route: the kernel dropped the
        // handshake's last ACK, and the reset then removes the half-open entry. The clients run ahead of the route here
        // (a reset client is done at once), so under load a few of the 10,000 can go that way; nearly all must arrive.
        var reached = (int)proxy.Status.Routes.Single().TotalConnections;
        Assert.InRange(reached, Connections * 9 / 10, Connections);
        // Each one that arrived was ended by the client's reset, not by the (30 s) connect timeout.
        await AssertEveryConnectionClosedAsync(proxy, reached, "client-reset");
    }

    /// <summary>One successful-or-not connection first, so lazily created loops, maps and runtime threads are in the baseline.</summary>
    private static async Task<Baseline> WarmUpAsync(ProxyApp proxy)
    {
        using (var client = await Net.ConnectAsync(proxy.EndPoint("r")))
        {
            await client.SendAsync("w"u8.ToArray(), SocketFlags.None).DefaultTimeout();
            client.Shutdown(SocketShutdown.Send);
            await Net.ClosedWithinAsync(client, TimeSpan.FromSeconds(10));
        }
        await Poll.UntilAsync(() => proxy.Status.Routes.Single().ActiveConnections == 0, "the warm-up connection to end");
        return Baseline.Take(proxy);
    }

    private static async Task RunAsync(int count, Func<int, Task> connection, int parallel = Parallel)
    {
        var next = -1;
        var workers = Enumerable.Range(0, parallel).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await connection(i);
            }
        });
        await Task.WhenAll(workers).WithTimeout(TimeSpan.FromSeconds(240));
    }

    /// <summary>What the proxy holds when no connection is open: descriptors of this process, and the loops' epoll registrations.</summary>
    private readonly record struct Baseline(int Descriptors, int Registrations, long ClosedByFinalizer)
    {
        public static Baseline Take(ProxyApp proxy)
        {
            CollectGarbage();
            return new(FdCount(), Listeners(proxy).LoopRegistrations, SafeFileDescriptorHandle.ClosedByFinalizer);
        }
    }

    /// <summary>Runs finalizers now, so a descriptor dropped without Dispose is counted (and closed) before it is checked.</summary>
    private static void CollectGarbage()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static TcpRouteListeners Listeners(ProxyApp proxy) => proxy.App.Services.GetRequiredService<TcpRouteListeners>();

    private static async Task AssertNothingLeftAsync(ProxyApp proxy, Baseline baseline, string clusterId, bool sockmap = false)
    {
        var listeners = Listeners(proxy);
        await Poll.UntilAsync(() => proxy.Status.Routes.Single().ActiveConnections == 0 && listeners.OpenConnections == 0,
            "every connection to end (route count and loops)");
        // A socket closed without its registration being removed would leave a handler (and its connection) in the table.
        await Poll.UntilAsync(() => listeners.LoopRegistrations == baseline.Registrations,
            $"the loops' registrations back to {baseline.Registrations}");
        Assert.All(proxy.Cluster(clusterId).Destinations.Values, d => Assert.Equal(0, d.ConcurrentRequestCount));
        var forwarder = (DataPathForwarder)proxy.App.Services.GetRequiredService<ITcpConnectionForwarder>();
        if (sockmap) // only then: asking for the engine would load it (and its descriptors) now
        {
            var engine = forwarder.Engine!;
            await Poll.UntilAsync(() => engine.ActiveConnections == 0, "the sockmap engine to release every connection");
            Assert.Equal(0, engine.ProgramMap.Count<ulong>());
            Assert.Equal(0, engine.RedirectMap.Count<ulong>());
            Assert.Equal(0, engine.Conns.Count<ulong>());
        }
        // A descriptor dropped without Dispose is closed by the GC sooner or later, which would hide it from the count below.
        CollectGarbage();
        Assert.Equal(baseline.ClosedByFinalizer, SafeFileDescriptorHandle.ClosedByFinalizer);
        // Sockets, pipes and anonymous inodes back to the baseline (a little slack for the runtime's own).
        await Poll.UntilAsync(() => FdCount() <= baseline.Descriptors + 8,
            $"descriptors back to {baseline.Descriptors} (+8); now: {string.Join(", ", KernelObjects())}");
    }

    /// <summary>Every connection wrote its access-log line (lines are written on the loops' tick), all with <paramref name="reason"/>, and nothing logged an error.</summary>
    private static async Task AssertEveryConnectionClosedAsync(ProxyApp proxy, int connections, string reason)
    {
        var deadline = Environment.TickCount64 + 10_000;
        while (proxy.Logs.AccessLog.Count() < connections && Environment.TickCount64 < deadline)
        {
            await Task.Delay(25);
        }
        var reasons = proxy.Logs.AccessLog.GroupBy(e => (string?)e.Values["CloseReason"]).ToDictionary(g => g.Key ?? "-", g => g.Count());
        Assert.Equal(connections, proxy.Status.Routes.Single().TotalConnections);
        Assert.Equal(new Dictionary<string, int> { [reason] = connections }, reasons);
        proxy.Logs.AssertNoErrors();
    }

    /// <summary>Kernel objects of this process (sockets, pipes, anon inodes) — the kinds a leak would be.</summary>
    private static int FdCount() => KernelObjects().Count;

    private static List<string> KernelObjects()
    {
        var objects = new List<string>();
        foreach (var f in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                var target = new FileInfo(f).LinkTarget ?? "";
                if (target.StartsWith("socket:", StringComparison.Ordinal) || target.StartsWith("pipe:", StringComparison.Ordinal)
                    || target.StartsWith("anon_inode:", StringComparison.Ordinal))
                {
                    objects.Add($"{Path.GetFileName(f)}->{target}");
                }
            }
            catch (IOException)
            {
            }
        }
        return objects;
    }

    /// <summary>
    /// A listener whose accept queue is full and never drained: further SYNs are dropped, so a connect to it neither
    /// succeeds nor fails until the connecting side gives up. The queued connections are returned to be disposed last.
    /// </summary>
    private static Socket FullListener(out string address, out List<Socket> queued)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var endPoint = (IPEndPoint)listener.LocalEndPoint!;
        queued = [];
        // Fill the queue (backlog 0 holds one): connections that complete the handshake but are never accepted.
        for (var i = 0; i < 2; i++)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
            try
            {
                s.Connect(endPoint);
            }
            catch (SocketException)
            {
            }
            queued.Add(s);
        }
        Thread.Sleep(100);
        address = ProxyConfig.Tcp(endPoint.Port);
        return listener;
    }

    /// <summary>
    /// Accepts every connection and holds it, without reading or writing, until disposed: only the proxy's idle timeout
    /// can end a connection through it.
    /// </summary>
    private sealed class SilentBackend : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Socket> _held = [];
        private readonly Task _accept;

        public SilentBackend()
        {
            _listener.Start(4096);
            _accept = AcceptLoopAsync();
        }

        public string Address => ProxyConfig.Tcp(((IPEndPoint)_listener.LocalEndpoint).Port);

        private async Task AcceptLoopAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    lock (_held)
                    {
                        _held.Add(socket);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            await _accept;
            _listener.Stop();
            lock (_held)
            {
                _held.ForEach(s => s.Dispose());
                _held.Clear();
            }
        }
    }
}
