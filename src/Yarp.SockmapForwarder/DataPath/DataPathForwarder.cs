using System.Collections.Concurrent;
using System.Net.Sockets;
using BpfSteer;
using BpfSteer.Interop;
using Microsoft.Extensions.Logging;
using Yarp.SockmapForwarder.DataPath.Sockmap;
using Yarp.SockmapForwarder.DataPath.Steering;
using Yarp.SockmapForwarder.DataPath.UserSpace;

namespace Yarp.SockmapForwarder.DataPath;

/// <summary>
/// The data path: picks sockmap or user space per connection (<see cref="Choose(ForwardingRequest)"/>), then forwards until both
/// directions are done. Register as a singleton; it owns one BPF object, one sockmap epoll thread and one splice
/// thread per route CPU, released by <see cref="Dispose"/>.
/// </summary>
internal sealed partial class DataPathForwarder : ITcpConnectionForwarder, IDisposable
{
    private readonly ILogger _logger;
    private readonly SockmapForwarderOptions _options;
    private readonly KernelFeatureReport? _features;
    private readonly Lazy<(SockmapEngine? Engine, string Detail)> _sockmap;
    private readonly ConcurrentDictionary<int, SpliceLoop> _spliceLoops = new();
    private readonly ConcurrentDictionary<int, PlacementMonitor> _placement = new();
    private readonly ConcurrentDictionary<(string Route, string Path, string Reason), bool> _logged = new();
    private readonly ConcurrentDictionary<int, ForwardingPath> _lastPath = new();
    private readonly ConcurrentDictionary<int, Action<long, long>> _bytesSinks = new();
    private ForwardingPath? _unusable;
    private readonly RouteCounters _counters = new();
    private readonly ConcurrentDictionary<int, SteeringDecision> _steering = new();
    private readonly RfsSteering _rfs;
    private readonly object _spliceGate = new();
    private bool _disposed;

    /// <param name="loggerFactory">Creates the data path's logger.</param>
    /// <param name="options">The process-wide settings, already validated (<see cref="Internal.SockmapForwarderOptionsValidator"/>).</param>
    /// <param name="features">The kernel feature report to decide with; null means <see cref="KernelFeatures.Current"/>.</param>
    public DataPathForwarder(ILoggerFactory loggerFactory, SockmapForwarderOptions? options = null, KernelFeatureReport? features = null)
    {
        NativeAbi.ThrowIfUnchecked("The sockmap forwarder");
        _logger = loggerFactory.CreateLogger("Yarp.SockmapForwarder.DataPath");
        _options = options ?? new SockmapForwarderOptions();
        _features = features;
        _rfs = new RfsSteering(_options.Steering ?? new SockmapSteeringOptions(), _logger);
        _sockmap = new Lazy<(SockmapEngine?, string)>(StartSockmap, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Whether the sockmap path works in this process (probe, load and self-test); probes on first use.</summary>
    public bool SockmapUsable => _sockmap.Value.Engine is not null;

    /// <summary>Why <see cref="SockmapUsable"/> is what it is.</summary>
    public string SockmapDetail => _sockmap.Value.Detail;

    /// <summary>Connections on the sockmap path right now.</summary>
    public int ActiveSockmapConnections => _sockmap.IsValueCreated ? _sockmap.Value.Engine?.ActiveConnections ?? 0 : 0;

    internal SockmapEngine? Engine => _sockmap.Value.Engine;

    /// <summary>The logger of the data path (category Yarp.SockmapForwarder.DataPath).</summary>
    internal ILogger Logger => _logger;

    /// <summary>Decides the path for one connection; the same rule <see cref="ForwardAsync"/> applies.</summary>
    public ForwardingPath Choose(ForwardingRequest request)
    {
        if (request.Route.Mode != TcpForwarderMode.UserSpace && request.ClientSocket is null)
        {
            return new(DataPathKind.UserSpace, "no socket hand-off: the client connection is Kestrel pipes (another transport)");
        }
        return Choose(request.Route, request.RouteIndex, request.Cpu);
    }

    /// <summary>
    /// The path for a connection of a TCP route's own loop (both sockets in hand): the rule of <see cref="Choose(ForwardingRequest)"/>,
    /// except that an Auto route whose rule gives sockmap starts every connection on the loop's user-space relay
    /// (<see cref="ForwardingPath.StartsOnRelay"/>) and moves it to sockmap once it turns bulk: small request/response
    /// traffic costs a verdict run and a kernel work item per message on sockmap, and is faster relayed by the loop that
    /// accepted it (docs/design.md, "Forwarder: path choice and Auto mode"). The answers are shared instances, so a connection
    /// costs no allocation here.
    /// </summary>
    public ForwardingPath ChooseForLoop(TcpRouteConfig route, int routeIndex, int? cpu)
    {
        var path = Choose(route, routeIndex, cpu);
        return route.Mode == TcpForwarderMode.Auto && path.IsSockmap ? _autoPaths[routeIndex].OnRelay : path;
    }

    private static readonly ForwardingPath s_userSpaceMode = new(DataPathKind.UserSpace, "the route's mode is UserSpace");
    private static readonly ForwardingPath s_sockmapMode = new(DataPathKind.Sockmap, "the route's mode is Sockmap");

    /// <summary>An Auto route's sockmap answers, made once per route and bound (the reason names both bounds).</summary>
    private sealed record AutoPaths(long MaxQueuedBytes, ForwardingPath Direct, ForwardingPath OnRelay);

    private readonly ConcurrentDictionary<int, AutoPaths> _autoPaths = new();

    private ForwardingPath AutoSockmap(TcpRouteConfig route, int routeIndex, SockmapEngine engine)
    {
        if (_autoPaths.TryGetValue(routeIndex, out var paths) && paths.MaxQueuedBytes == route.MaxQueuedBytes)
        {
            return paths.Direct;
        }
        var why = $"sockmap usable ({engine.ProgramName}), placement not single-CPU, queue bound {route.MaxQueuedBytes} bytes per direction, process budget {engine.KernelQueue.BudgetBytes} bytes";
        paths = new AutoPaths(route.MaxQueuedBytes, new(DataPathKind.Sockmap, "Auto: " + why),
            new(DataPathKind.Sockmap, "Auto: each connection starts on the user-space relay of the loop that accepted it and moves to sockmap once it turns bulk; " + why)
            {
                StartsOnRelay = true,
            });
        _autoPaths[routeIndex] = paths;
        return paths.Direct;
    }

    private ForwardingPath Unusable() => _unusable ??= new(DataPathKind.UserSpace, "sockmap is not usable: " + _sockmap.Value.Detail);

    private ForwardingPath Choose(TcpRouteConfig route, int routeIndex, int? cpu)
    {
        if (route.Mode == TcpForwarderMode.UserSpace)
        {
            return s_userSpaceMode;
        }
        var engine = _sockmap.Value.Engine;
        if (engine is null)
        {
            return Unusable();
        }
        if (route.Mode == TcpForwarderMode.Auto)
        {
            if (route.MaxQueuedBytes <= 0)
            {
                return new(DataPathKind.UserSpace, "Auto mode keeps routes without a queue bound (MaxQueuedBytes = 0) off sockmap: without it a stalled reader makes the kernel hold unbounded memory");
            }
            var monitor = _placement.GetOrAdd(routeIndex, r => new PlacementMonitor(engine, r, _options.PlacementHold));
            monitor.SteeredCpu = _steering.TryGetValue(routeIndex, out var steered) && steered.IsSteered ? cpu : null;
            if (monitor.UserSpaceReason(Environment.TickCount64) is { } reason)
            {
                return new(DataPathKind.UserSpace, reason);
            }
        }
        return route.Mode == TcpForwarderMode.Sockmap ? s_sockmapMode : AutoSockmap(route, routeIndex, engine);
    }

    public async Task<ForwardingResult> ForwardAsync(ForwardingRequest request, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)request.RouteIndex >= RouteIndexes.MaxConfiguredRoutes)
        {
            throw new ArgumentOutOfRangeException(nameof(request), $"RouteIndex must be 0..{RouteIndexes.MaxConfiguredRoutes - 1} ({RouteIndexes.SelfTest} is the self-test's); '{request.RouteIndex}' was set on the route '{request.RouteId}'.");
        }
        var path = Choose(request);
        ForwardingResult result;
        if (path.IsSockmap)
        {
            result = await ForwardSockmapAsync(request, _sockmap.Value.Engine!, path, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            Record(request, path);
            result = await ForwardUserSpaceAsync(request, (0, 0), request.ClientBufferedData.Length, cancellationToken).ConfigureAwait(false);
        }
        return Ended(request, result);
    }

    /// <summary>Counts and logs a connection this forwarder ran to its end.</summary>
    private ForwardingResult Ended(ForwardingRequest request, ForwardingResult result)
    {
        _counters.AddConnection(request.RouteIndex, result.Path == DataPathKind.Sockmap);
        DataPathLog.ConnectionEnded(_logger, request.RouteId, result.Path.Name(), result.CloseReason.Name(), result.BytesClientToBackend, result.BytesBackendToClient);
        return result;
    }

    private async Task<ForwardingResult> ForwardSockmapAsync(ForwardingRequest request, SockmapEngine engine, ForwardingPath path, CancellationToken cancellationToken)
    {
        if (!engine.TryAllocate(out var index))
        {
            var full = new ForwardingPath(DataPathKind.UserSpace, $"the sockmap is full ({engine.Capacity} connections)");
            Record(request, full);
            return await ForwardUserSpaceAsync(request, (0, 0), request.ClientBufferedData.Length, cancellationToken).ConfigureAwait(false);
        }
        return await PairAndForwardAsync(request, engine, index, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Pairs the connection in sockmap slot <paramref name="index"/> (taken by the caller) and forwards until it ends.</summary>
    private async Task<ForwardingResult> PairAndForwardAsync(ForwardingRequest request, SockmapEngine engine, int index, ForwardingPath path, CancellationToken cancellationToken)
    {
        SocketIo.Adopt(request.ClientSocket!);
        SocketIo.Adopt(request.Backend);
        if (request.Route.MaxQueuedBytes <= 0)
        {
            LogOnce(request.RouteId, "unbounded", "", () => DataPathLog.Unbounded(_logger, request.RouteId));
        }
        var connection = new SockmapConnection(engine, index, request);
        SteeringPairing? steering = null;
        var (outcome, detail) = await connection.PairAsync(() =>
        {
            steering = _rfs.BeginPairing(request.ClientSocket!, request.Backend, request.Cpu, out var decision);
            RecordSteering(request, decision); // before the insertion: bytes flow (and stats are read) from then on
            return steering;
        }, cancellationToken).ConfigureAwait(false);
        if (outcome != PairOutcome.Paired)
        {
            engine.Release(index);
            if (outcome == PairOutcome.Failed)
            {
                Record(request, path);
                return await connection.Completion.ConfigureAwait(false);
            }
            // Early data is already written; the user-space path continues from here (nothing was read partially).
            // A promoted connection's fallback is that connection's alone (a socket began to close between the check and
            // the insertion): the route's decision, relay first and sockmap once bulk, stands.
            if (!path.StartsOnRelay)
            {
                Record(request, new ForwardingPath(DataPathKind.UserSpace, "sockmap pairing fell back: " + detail));
            }
            DataPathLog.FellBack(_logger, request.RouteId, detail);
            var early = connection.EarlyBytes;
            var plain = new ForwardingRequest
            {
                Route = request.Route, RouteIndex = request.RouteIndex, Cpu = request.Cpu, ClientSocket = request.ClientSocket,
                Backend = request.Backend,
            };
            return await ForwardUserSpaceAsync(plain, early, 0, cancellationToken).ConfigureAwait(false);
        }
        Record(request, path);
        engine.Start(connection);
        using var steered = steering?.Track();
        using var registration = cancellationToken.Register(() => engine.Abort(connection));
        var result = await connection.Completion.ConfigureAwait(false);
        _counters.AddBytes(request.RouteIndex, connection.UserBytes.ClientToBackend, connection.UserBytes.BackendToClient);
        _counters.AddParks(request.RouteIndex, connection.ParkCounts);
        engine.Queue.Finished(request.RouteIndex, connection.LargestBacklog);
        return result;
    }

    private async Task<ForwardingResult> ForwardUserSpaceAsync(ForwardingRequest request, (long C2B, long B2C) early, int bufferedCounted, CancellationToken cancellationToken)
    {
        var route = request.RouteIndex;
        void OnBytes(long c2b, long b2c) => _counters.AddBytes(route, c2b, b2c);
        if (request.ClientSocket is null)
        {
            return await PipeForwarder.ForwardAsync(request, OnBytes, cancellationToken).ConfigureAwait(false);
        }
        SocketIo.Adopt(request.ClientSocket);
        SocketIo.Adopt(request.Backend);
        var prefix = Concat(request.BackendPreamble, request.ClientBufferedData);
        _counters.AddBytes(route, early.C2B + bufferedCounted, early.B2C);
        var connection = new SpliceConnection(request.ClientSocket, request.Backend, prefix, (early.C2B + bufferedCounted, early.B2C),
            request.Route.IdleTimeout, OnBytes);
        var loop = SpliceLoopFor(request.Cpu);
        loop.Start(connection);
        using var registration = cancellationToken.Register(() => loop.Abort(connection));
        return await connection.Completion.ConfigureAwait(false);
    }

    private static ReadOnlyMemory<byte> Concat(ReadOnlyMemory<byte> a, ReadOnlyMemory<byte> b)
    {
        if (a.IsEmpty || b.IsEmpty)
        {
            return a.IsEmpty ? b : a;
        }
        var joined = new byte[a.Length + b.Length];
        a.CopyTo(joined);
        b.CopyTo(joined.AsMemory(a.Length));
        return joined;
    }

    private SpliceLoop SpliceLoopFor(int? cpu)
    {
        // One loop per route CPU (pinned there); connections without a CPU share loop -1 (unpinned).
        var key = cpu ?? -1;
        if (_spliceLoops.TryGetValue(key, out var loop))
        {
            return loop;
        }
        lock (_spliceGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _spliceLoops.GetOrAdd(key, k => new SpliceLoop(k < 0 ? null : k, _logger));
        }
    }

    private void RecordSteering(ForwardingRequest request, SteeringDecision decision)
    {
        _steering[request.RouteIndex] = decision;
        var text = decision.ToString();
        LogOnce(request.RouteId, "steering", text, () => SteeringLog.Decision(_logger, request.RouteId, request.Cpu?.ToString() ?? "none", text));
    }

    private void Record(ForwardingRequest request, ForwardingPath path) => RecordPath(request.RouteIndex, request.RouteId, path);

    /// <summary>Records the path a route's connection took (status) and logs each route's path and reason once.</summary>
    public void RecordPath(int routeIndex, string routeId, ForwardingPath path)
    {
        if (_lastPath.TryGetValue(routeIndex, out var last) && ReferenceEquals(last, path))
        {
            return; // the same shared decision as the route's previous connection: nothing new to record or log
        }
        _lastPath[routeIndex] = path;
        LogOnce(routeId, path.Path.Name(), path.Reason, () => DataPathLog.PathChosen(_logger, routeId, path.Path.Name(), path.Reason));
    }

    /// <summary>The live byte counter of a route for the user-space relay (one delegate per route, not per connection).</summary>
    public Action<long, long> BytesSink(int routeIndex)
        => _bytesSinks.GetOrAdd(routeIndex, static (r, counters) => (c2b, b2c) => counters.AddBytes(r, c2b, b2c), _counters);

    /// <summary>
    /// Whether a connection of a TCP route loop, relayed in user space, should move to sockmap now. The loop asks after an
    /// event of a connection whose relay has turned bulk (a read filled its buffer) while nothing is held in user space. Yes
    /// for an Auto route whose rule still gives sockmap (usable, placement not single-CPU): bulk streams are where sockmap
    /// wins, small messages stay on the relay. Cheap (no allocation): it runs on every such event until the move.
    /// </summary>
    public bool WantsPromotion(TcpRouteConfig route, int routeIndex, long bytesClientToBackend, long bytesBackendToClient, long startedTicks)
        => route.Mode == TcpForwarderMode.Auto && Choose(route, routeIndex, null).IsSockmap;

    /// <summary>
    /// Moves a bulk connection of a TCP route loop to sockmap: the loop has removed both sockets from its epoll, nothing is
    /// held in user space and nothing is read but unwritten, so the connection is paired like a new one without early data.
    /// Returns the task that completes when the connection ends (its byte counts include <paramref name="candidate"/>'s),
    /// or null to keep it on the relay when a socket is no longer ESTABLISHED or no sockmap slot is free (the loop takes
    /// both sockets back). Once paired or fallen back (a socket left ESTABLISHED meanwhile), the connection is this
    /// forwarder's: a fallback continues on the splice path.
    /// </summary>
    public Task<ForwardingResult>? TryPromote(PromotionCandidate candidate, CancellationToken abort)
    {
        var engine = _sockmap.IsValueCreated ? _sockmap.Value.Engine : null;
        // Only established sockets enter the maps (docs/design.md, "Sockmap: only established sockets enter"): a connection
        // that has begun to close stays on the relay, which already handles its half-close.
        if (engine is null || !NativeSocket.IsEstablished(candidate.Client) || !NativeSocket.IsEstablished(candidate.Backend)
            || !engine.TryAllocate(out var index))
        {
            return null;
        }
        var request = new ForwardingRequest
        {
            Route = candidate.Route, RouteIndex = candidate.RouteIndex, Cpu = candidate.Cpu,
            ClientSocket = new Socket(new SafeSocketHandle(candidate.Client.Detach(), ownsHandle: true)),
            Backend = new Socket(new SafeSocketHandle(candidate.Backend.Detach(), ownsHandle: true)),
        };
        return PromoteAsync(request, engine, index, candidate.BytesClientToBackend, candidate.BytesBackendToClient, abort);
    }

    private async Task<ForwardingResult> PromoteAsync(ForwardingRequest request, SockmapEngine engine, int index, long relayedC2B, long relayedB2C, CancellationToken abort)
    {
        AutoSockmap(request.Route, request.RouteIndex, engine);
        var path = _autoPaths[request.RouteIndex].OnRelay; // the route's reason stays the one its relayed connections give
        var result = await PairAndForwardAsync(request, engine, index, path, abort).ConfigureAwait(false);
        result = result with
        {
            BytesClientToBackend = result.BytesClientToBackend + relayedC2B,
            BytesBackendToClient = result.BytesBackendToClient + relayedB2C,
        };
        return Ended(request, result);
    }

    /// <summary>Counts a connection forwarded outside <see cref="ForwardAsync"/> (the TCP route loops' relay) by its path.</summary>
    public void CountConnection(int routeIndex, bool sockmap) => _counters.AddConnection(routeIndex, sockmap);

    private void LogOnce(string route, string path, string reason, Action log)
    {
        if (_logged.TryAdd((route, path, reason), true))
        {
            log();
        }
    }

    public void Dispose()
    {
        lock (_spliceGate)
        {
            _disposed = true;
        }
        foreach (var loop in _spliceLoops.Values)
        {
            loop.Dispose();
        }
        if (_sockmap.IsValueCreated)
        {
            _sockmap.Value.Engine?.Dispose();
        }
        _rfs.Dispose();
    }
}
