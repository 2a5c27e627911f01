using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// The transport's shared state in one DI singleton: the worker pool (started by the first bind, stopped after the last
/// listener is disposed), per-CPU counters, selector and endpoints. It is the <see cref="IBpfSteerTransportStatus"/>.
/// </summary>
internal sealed class BpfSteerTransportState : IBpfSteerTransportStatus, IWorkerLoopProvider, IDisposable
{
    private readonly ConcurrentDictionary<int, WorkerCounters> _counters = new();
    private readonly SemaphoreSlim _poolLock = new(1, 1);
    private readonly TransportMetrics _metrics;
    private readonly object _statusLock = new();
    private readonly List<string> _endpoints = new();
    private WorkerPool? _pool;
    private int _poolUsers;
    private bool _migrating;
    private ReuseportSelector _selector = ReuseportSelector.None;
    private string _selectorDetail = "Not bound.";

    public BpfSteerTransportState(IMeterFactory? meterFactory = null)
        => _metrics = new TransportMetrics(meterFactory, () => WorkersInOrder(), cpu => _pool?.Balancer?.SpillOf(cpu).Share ?? 0);

    public IReadOnlyList<BpfSteerWorkerStatus> Workers
    {
        get
        {
            var balancer = _pool?.Balancer;
            return WorkersInOrder().Select(c => balancer?.SpillOf(c.Cpu) is { Share: > 0 } spill
                ? c.Snapshot() with { SpillShare = spill.Share, SpillTargetCpu = spill.Target }
                : c.Snapshot()).ToArray();
        }
    }

    public IReadOnlyList<IWorkerLoop> Loops => _pool?.Loops ?? [];

    public IWorkerLoop? Current => Worker.Current is { } worker && _pool is { } pool && pool.Workers.Contains(worker) ? worker : null;

    public ReuseportSelector Selector
    {
        get { lock (_statusLock) { return _selector; } }
    }

    public string SelectorDetail
    {
        get { lock (_statusLock) { return _selectorDetail; } }
    }

    public IReadOnlyList<string> Endpoints
    {
        get { lock (_statusLock) { return _endpoints.ToArray(); } }
    }

    public async Task<WorkerPool> AcquireWorkersAsync(IReadOnlyList<int> cpus, BpfSteerTransportOptions options,
        IMemoryPoolFactory<byte>? memoryPoolFactory, ILoggerFactory loggerFactory)
    {
        await _poolLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_pool is null)
            {
                _pool = await WorkerPool.StartAsync(cpus, cpu => _counters.GetOrAdd(cpu, c => new WorkerCounters(c)),
                    memoryPoolFactory, loggerFactory, options.ApplicationScheduling == ApplicationScheduling.Inline,
                    spillOver: options.SpillOver && options.Selector == ReuseportSelector.Cbpf, options.IdleSpin).ConfigureAwait(false);
                _migrating = options.MigrateQueuedConnections && TcpMigrateRequest.Acquire(loggerFactory.CreateLogger<WorkerPool>());
            }
            else if (!_pool.Cpus.SequenceEqual(cpus))
            {
                throw new InvalidOperationException(
                    $"The BpfSteer workers run on CPUs [{string.Join(",", _pool.Cpus)}]; an endpoint cannot be bound on [{string.Join(",", cpus)}] at the same time.");
            }
            _poolUsers++;
            return _pool;
        }
        finally
        {
            _poolLock.Release();
        }
    }

    public async Task ReleaseWorkersAsync(WorkerPool pool)
    {
        await _poolLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_pool != pool || --_poolUsers > 0)
            {
                return;
            }
            _pool = null;
            await pool.StopAsync().ConfigureAwait(false);
            if (_migrating)
            {
                _migrating = false;
                TcpMigrateRequest.Release();
            }
        }
        finally
        {
            _poolLock.Release();
        }
    }

    public void OnBound(string endPoint, ReuseportSelector selector, string detail)
    {
        lock (_statusLock)
        {
            _endpoints.Add(endPoint);
            _selector = selector;
            _selectorDetail = detail;
        }
    }

    /// <summary>The running workers, if any (tests and diagnostics).</summary>
    internal WorkerPool? CurrentPool => _pool;

    public void OnSelectorChanged(ReuseportSelector selector, string detail)
    {
        lock (_statusLock)
        {
            _selector = selector;
            _selectorDetail = detail;
        }
    }

    public void OnUnbound(string endPoint)
    {
        lock (_statusLock)
        {
            _endpoints.Remove(endPoint);
        }
    }

    public void Dispose() => _metrics.Dispose();

    private IEnumerable<WorkerCounters> WorkersInOrder()
    {
        var pool = _pool;
        return pool is null
            ? _counters.Values.OrderBy(c => c.Cpu)
            : pool.Workers.Select(w => w.Counters);
    }
}
