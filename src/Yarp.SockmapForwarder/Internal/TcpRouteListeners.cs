using System.Collections.Concurrent;
using BpfSteer.Internal;
using BpfSteer.Interop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// The TCP routes' own listeners and loops: one <see cref="TcpRouteLoop"/> per CPU this process may use (started with the
/// first route that binds), and per route a <see cref="TcpRouteListener"/>. Routes bound at start come through Kestrel
/// (<see cref="TcpRouteListenerFactory"/>: the route stays a Kestrel endpoint, so Kestrel's URL rules are unchanged);
/// routes added or moved by a configuration reload are bound here directly, live. Also holds what every connection
/// needs (destination connector, data path, metrics, loggers).
/// </summary>
internal sealed class TcpRouteListeners : IAsyncDisposable
{
    private readonly object _sync = new();
    private readonly Dictionary<TcpRouteState, TcpRouteListener> _listeners = new();
    private readonly ConcurrentDictionary<TcpRouteConnection, CancellationTokenSource> _sockmap = new();
    private readonly Dictionary<int, TcpRouteLoop> _loops = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeSpan _idleSpin;
    private int[]? _cpus;
    private ReuseportBalancer? _balancer;
    private bool _disposed;

    public TcpRouteListeners(TcpRouteTable table, DestinationConnector connector, ITcpConnectionForwarder forwarder, SockmapForwarderMetrics metrics,
        IOptions<SockmapForwarderOptions> options, ILoggerFactory loggerFactory)
    {
        _idleSpin = options.Value.IdleSpin;
        Connector = connector;
        DataPath = (DataPathForwarder)forwarder;
        Metrics = metrics;
        _loggerFactory = loggerFactory;
        Logger = loggerFactory.CreateLogger<TcpRouteListeners>();
        AccessLog = loggerFactory.CreateLogger(SockmapForwarderLog.AccessLogCategory);
        DataPathLogger = DataPath.Logger;
        table.Binder = this;
    }

    public DestinationConnector Connector { get; }

    /// <summary>True once <see cref="DisposeAsync"/> has begun (any thread).</summary>
    public bool IsDisposing => Volatile.Read(ref _disposed);

    public DataPathForwarder DataPath { get; }

    public SockmapForwarderMetrics Metrics { get; }

    public ILogger Logger { get; }

    public ILogger AccessLog { get; }

    public ILogger DataPathLogger { get; }

    /// <summary>Descriptors registered with the loops right now: listen sockets and connections' sockets (a snapshot, for tests).</summary>
    public int LoopRegistrations
    {
        get
        {
            lock (_sync)
            {
                return _loops.Values.Sum(l => l.RegistrationCount);
            }
        }
    }

    /// <summary>Connections held right now, on every loop and on the sockmap engine (a snapshot, for status and tests).</summary>
    public int OpenConnections
    {
        get
        {
            lock (_sync)
            {
                return _loops.Values.Sum(l => l.ConnectionCount) + _sockmap.Count;
            }
        }
    }

    /// <summary>The loops started so far, by CPU.</summary>
    public IReadOnlyList<TcpRouteLoop> Loops
    {
        get
        {
            lock (_sync)
            {
                return _loops.Values.ToArray();
            }
        }
    }

    /// <summary>Binds <paramref name="route"/> at its configured address and starts accepting; throws AddressInUseException when taken.</summary>
    public async Task<TcpRouteListener> BindAsync(TcpRouteState route, int? port = null)
    {
        var loops = LoopsFor(route.Config.Cpu);
        var listen = port is int p ? route.Listen with { Port = p } : route.Listen;
        var listener = await TcpRouteListener.BindAsync(route, listen, loops, _balancer!).ConfigureAwait(false);
        lock (_sync)
        {
            if (_disposed)
            {
                _ = listener.CloseAsync();
                throw new ObjectDisposedException(nameof(TcpRouteListeners));
            }
            _listeners[route] = listener;
        }
        route.BoundEndPoint = listener.BoundEndPoint;
        SockmapForwarderLog.RouteBound(Logger, route.RouteId, listener.BoundEndPoint, string.Join(",", loops.Select(l => l.Cpu)),
            listener.SelectorAttached ? "the CPU selector" : "kernel hashing (SO_INCOMING_CPU preferred)");
        return listener;
    }

    /// <summary>Stops accepting for <paramref name="route"/> and aborts its open connections (server stop).</summary>
    public async Task UnbindAsync(TcpRouteState route)
    {
        TcpRouteListener? listener;
        lock (_sync)
        {
            _listeners.Remove(route, out listener);
        }
        if (listener is not null)
        {
            await listener.CloseAsync().ConfigureAwait(false);
        }
        await AbortAsync(route).ConfigureAwait(false);
    }

    /// <summary>Aborts the open connections of <paramref name="route"/> (all routes when null).</summary>
    public async Task AbortAsync(TcpRouteState? route)
    {
        foreach (var loop in Loops)
        {
            await loop.AbortAsync(route).ConfigureAwait(false);
        }
        foreach (var connection in _sockmap.Keys)
        {
            if (route is null || connection.Route == route)
            {
                connection.AbortSockmap();
            }
        }
    }

    /// <summary>A reload added <paramref name="route"/>: bind it now (errors are logged; the route then accepts nothing).</summary>
    public void BindLive(TcpRouteState route) => _ = MoveAsync(route);

    /// <summary>
    /// A reload changed <paramref name="route"/>'s Listen or Cpu: the old listen sockets close first (the address may be
    /// the same), then the new ones bind; a port-0 route that keeps its address keeps its port. Open connections stay.
    /// </summary>
    public void MoveLive(TcpRouteState route) => _ = MoveAsync(route);

    private async Task MoveAsync(TcpRouteState route)
    {
        try
        {
            TcpRouteListener? previous;
            lock (_sync)
            {
                _listeners.Remove(route, out previous);
            }
            int? port = null;
            if (previous is not null)
            {
                await previous.CloseAsync().ConfigureAwait(false);
                if (route.Listen.Port == 0 && previous.Listen with { Port = 0 } == route.Listen)
                {
                    port = previous.BoundPort;
                }
            }
            await BindAsync(route, port).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            SockmapForwarderLog.BindFailed(Logger, route.RouteId, route.Listen.ToString(), ex);
        }
    }

    public CancellationTokenSource TrackSockmap(TcpRouteConnection connection)
    {
        var abort = new CancellationTokenSource();
        _sockmap[connection] = abort;
        return abort;
    }

    public void UntrackSockmap(TcpRouteConnection connection) => _sockmap.TryRemove(connection, out _);

    /// <summary>The loops a route listens on: the one of its Cpu, else one per usable CPU; started on first use.</summary>
    private TcpRouteLoop[] LoopsFor(int? cpu)
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_cpus is null)
            {
                _cpus = UsableCpus();
                _balancer = new ReuseportBalancer(_cpus, state => SockmapForwarderLog.SpillChanged(Logger, state), MoveOnSpill);
            }
            int[] wanted = cpu is int c ? [c] : _cpus;
            var loops = new TcpRouteLoop[wanted.Length];
            for (var i = 0; i < wanted.Length; i++)
            {
                if (!_loops.TryGetValue(wanted[i], out var loop))
                {
                    loop = new TcpRouteLoop(wanted[i], this, _idleSpin, _loggerFactory.CreateLogger<TcpRouteLoop>());
                    _ = loop.StartAsync(); // pinning failures are logged, not thrown: it cannot fail; work queued meanwhile runs once it does
                    _loops[wanted[i]] = loop;
                }
                loops[i] = loop;
            }
            return loops;
        }
    }

    /// <summary>
    /// The balancer raised <paramref name="source"/>'s spill share by <paramref name="rise"/>: the source's loop moves
    /// that share of its relayed connections to <paramref name="target"/>'s loop too, so connections that arrived in a
    /// burst before the share rose do not stay on the saturated CPU for life (balancer timer: only queues). A target loop
    /// that has died is skipped (its CPU looks idle, but nothing would serve a connection moved there).
    /// </summary>
    private void MoveOnSpill(int source, int target, double rise)
    {
        TcpRouteLoop? from, to;
        lock (_sync)
        {
            if (_disposed || !_loops.TryGetValue(source, out from) || !_loops.TryGetValue(target, out to) || to.IsFaulted)
            {
                return;
            }
        }
        from.Schedule(static s =>
        {
            var (from, to, rise) = ((TcpRouteLoop, TcpRouteLoop, double))s!;
            // Checked again on the source loop: once disposal has begun the loops stop one by one, and a connection
            // queued to a loop that has stopped would never be adopted (nor closed).
            var moved = from.Owner.IsDisposing ? 0 : from.MoveShare(to, rise);
            if (moved > 0)
            {
                SockmapForwarderLog.ConnectionsMoved(from.Owner.Logger, moved, from.Cpu, to.Cpu);
                from.Owner.Metrics.RecordConnectionsMoved(moved, from.Cpu, to.Cpu);
            }
        }, (from, to, rise));
    }

    /// <summary>The CPUs this process may run on (cgroup cpusets, taskset), in order.</summary>
    private static int[] UsableCpus()
    {
        try
        {
            return CpuAffinity.GetCurrentThreadAffinity();
        }
        catch (Exception)
        {
            return Enumerable.Range(0, Environment.ProcessorCount).ToArray();
        }
    }

    public async ValueTask DisposeAsync()
    {
        TcpRouteListener[] listeners;
        TcpRouteLoop[] loops;
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            listeners = _listeners.Values.ToArray();
            _listeners.Clear();
            loops = _loops.Values.ToArray();
        }
        foreach (var listener in listeners)
        {
            await listener.CloseAsync().ConfigureAwait(false);
        }
        await AbortAsync(null).ConfigureAwait(false);
        foreach (var loop in loops)
        {
            await loop.StopAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        _balancer?.Dispose();
    }
}
