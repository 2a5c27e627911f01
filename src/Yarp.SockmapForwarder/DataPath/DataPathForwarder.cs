using System.Collections.Concurrent;
using BpfSteer;
using BpfSteer.Interop;
using Microsoft.Extensions.Logging;
using Yarp.SockmapForwarder.DataPath.Sockmap;
using Yarp.SockmapForwarder.DataPath.Steering;
using Yarp.SockmapForwarder.DataPath.UserSpace;

namespace Yarp.SockmapForwarder.DataPath;

/// <summary>
/// The data path: picks sockmap or user space per connection (<see cref="Choose"/>), then forwards until both
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

    /// <summary>Decides the path for one connection; the same rule <see cref="ForwardAsync"/> applies.</summary>
    public ForwardingPath Choose(ForwardingRequest request)
    {
        var route = request.Route;
        if (route.Mode == TcpForwarderMode.UserSpace)
        {
            return new(DataPathKind.UserSpace, "the route's mode is UserSpace");
        }
        if (request.ClientSocket is null)
        {
            return new(DataPathKind.UserSpace, "no socket hand-off: the client connection is Kestrel pipes (another transport)");
        }
        var (engine, detail) = _sockmap.Value;
        if (engine is null)
        {
            return new(DataPathKind.UserSpace, "sockmap is not usable: " + detail);
        }
        if (route.Mode == TcpForwarderMode.Auto)
        {
            if (route.MaxQueuedBytes <= 0)
            {
                return new(DataPathKind.UserSpace, "Auto mode keeps routes without a queue bound (MaxQueuedBytes = 0) off sockmap: without it a stalled reader makes the kernel hold unbounded memory");
            }
            var monitor = _placement.GetOrAdd(request.RouteIndex, r => new PlacementMonitor(engine, r, _options.PlacementHold));
            monitor.SteeredCpu = _steering.TryGetValue(request.RouteIndex, out var steered) && steered.IsSteered ? request.Cpu : null;
            if (monitor.UserSpaceReason(Environment.TickCount64) is { } reason)
            {
                return new(DataPathKind.UserSpace, reason);
            }
        }
        return new(DataPathKind.Sockmap, route.Mode == TcpForwarderMode.Sockmap
            ? "the route's mode is Sockmap"
            : $"Auto: sockmap usable ({engine.ProgramName}), placement not single-CPU, queue bound {route.MaxQueuedBytes} bytes per direction, process budget {engine.KernelQueue.BudgetBytes} bytes");
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
        SocketIo.Adopt(request.ClientSocket!);
        SocketIo.Adopt(request.Backend);
        if (request.Route.MaxQueuedBytes <= 0)
        {
            LogOnce(request.RouteId, "unbounded", "", () => DataPathLog.Unbounded(_logger, request.RouteId));
        }
        var connection = new SockmapConnection(engine, index, request);
        var steering = _rfs.BeginPairing(request.ClientSocket!, request.Backend, request.Cpu, out var steeringDecision);
        RecordSteering(request, steeringDecision); // before the insertion: bytes flow (and stats are read) from then on
        PairOutcome outcome;
        string detail;
        using (steering)
        {
            outcome = connection.TryPair(out detail);
        }
        if (outcome != PairOutcome.Paired)
        {
            engine.Release(index);
            if (outcome == PairOutcome.Failed)
            {
                Record(request, path);
                return await connection.Completion.ConfigureAwait(false);
            }
            // Early data is already written; the user-space path continues from here (nothing was read partially).
            var fallback = new ForwardingPath(DataPathKind.UserSpace, "sockmap pairing fell back: " + detail);
            Record(request, fallback);
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

    private void Record(ForwardingRequest request, ForwardingPath path)
    {
        _lastPath[request.RouteIndex] = path;
        LogOnce(request.RouteId, path.Path.Name(), path.Reason, () => DataPathLog.PathChosen(_logger, request.RouteId, path.Path.Name(), path.Reason));
    }

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
