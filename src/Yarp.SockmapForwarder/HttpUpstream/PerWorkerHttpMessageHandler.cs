using System.Net.Http;
using BpfSteer;
using Microsoft.Extensions.Logging;

namespace Yarp.SockmapForwarder.HttpUpstream;

/// <summary>
/// A cluster's HTTP client on the BpfSteer transport: one SocketsHttpHandler (one connection pool) per worker, each
/// with its connections in that worker's epoll loop, and each request sent through the pool of the worker serving its
/// downstream connection — so both halves of a proxied request stay on one CPU. Pools are made on a worker's first
/// request (YARP creates clients before Kestrel binds, when no worker exists yet).
/// </summary>
/// <remarks>
/// <para>MaxConnectionsPerServer set on the cluster is split between the workers (largest remainder), so the sum of
/// the pools' limits is the cluster's. A worker whose share is 0 (fewer connections than workers) sends through the
/// pool of worker <c>index % limit</c>; a worker whose pool is busy (as many requests in flight as its share) lends a
/// request to a worker that has room. Requests with no serving worker (health probes, endpoints on Kestrel's Sockets
/// transport) go round-robin to the workers' pools; before any worker exists, to one shared pool.</para>
/// </remarks>
internal sealed class PerWorkerHttpMessageHandler : HttpMessageHandler
{
    private readonly ClusterHandlerBuilder _builder;
    private readonly IWorkerLoopProvider _workers;
    private readonly int? _limit;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private WorkerPool[] _pools = [];
    private WorkerPool? _shared;
    private uint _roundRobin;
    private bool _disposed;

    public PerWorkerHttpMessageHandler(ClusterHandlerBuilder builder, IWorkerLoopProvider workers, ILogger logger)
    {
        _builder = builder;
        _workers = workers;
        _limit = builder.Context.NewConfig.MaxConnectionsPerServer;
        _logger = logger;
    }

    public string ClusterId => _builder.Context.ClusterId;

    /// <summary>The current pools (tests, diagnostics).</summary>
    internal IReadOnlyList<WorkerPool> Pools => _pools;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var pool = Select();
        return _limit is null && pool.Loop is not null ? pool.SendUncounted(request, cancellationToken) : pool.SendCounted(request, cancellationToken);
    }

    /// <summary>
    /// Synchronous sends (HttpMessageInvoker.Send) take SocketsHttpHandler's own synchronous path, with what it supports
    /// on Sockets (HTTP/1.x only). On a worker thread the connection's stream refuses to block (it would wait for itself).
    /// </summary>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        => Select().SendSync(request, cancellationToken);

    private WorkerPool Select()
    {
        var loops = _workers.Loops;
        if (loops.Count == 0)
        {
            return _shared ?? CreateShared();
        }
        var pools = _pools;
        if (pools.Length != loops.Count || !SameLoops(pools, loops))
        {
            pools = Rebuild(loops);
        }
        var loop = DownstreamWorker.Current ?? _workers.Current;
        var index = loop is not null && loop.Index < pools.Length && ReferenceEquals(pools[loop.Index].Loop, loop)
            ? loop.Index
            : (int)(Interlocked.Increment(ref _roundRobin) % (uint)pools.Length);
        var pool = pools[index];
        if (_limit is { } limit)
        {
            if (pool.Share == 0)
            {
                pool = pools[index % limit];
            }
            if (pool.InFlight >= pool.Share)
            {
                pool = LendTo(pools, pool);
            }
        }
        return pool;
    }

    /// <summary>A pool with room when the chosen one has none; the chosen one if every pool is busy (its queue waits).</summary>
    private static WorkerPool LendTo(WorkerPool[] pools, WorkerPool busy)
    {
        foreach (var pool in pools)
        {
            if (pool.Share > 0 && pool.InFlight < pool.Share)
            {
                return pool;
            }
        }
        return busy;
    }

    private static bool SameLoops(WorkerPool[] pools, IReadOnlyList<IWorkerLoop> loops)
    {
        for (var i = 0; i < pools.Length; i++)
        {
            if (!ReferenceEquals(pools[i].Loop, loops[i]))
            {
                return false;
            }
        }
        return true;
    }

    private WorkerPool CreateShared()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Before Kestrel binds there is no worker; YARP's first health probes come here. A plain pool, retired
            // (disposed once idle) when the workers' pools are made, so it does not keep connections beside them.
            return _shared ??= new WorkerPool(null, _limit ?? int.MaxValue, _builder.Build(null, _limit, out _));
        }
    }

    /// <summary>New pools for a new set of workers (first requests, or the transport restarted its workers).</summary>
    private WorkerPool[] Rebuild(IReadOnlyList<IWorkerLoop> loops)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var old = _pools;
            if (old.Length == loops.Count && SameLoops(old, loops))
            {
                return old;
            }
            var pools = new WorkerPool[loops.Count];
            for (var i = 0; i < pools.Length; i++)
            {
                var share = _limit is { } limit ? limit / pools.Length + (i < limit % pools.Length ? 1 : 0) : int.MaxValue;
                if (share == 0)
                {
                    pools[i] = new WorkerPool(loops[i], 0, null);
                    continue;
                }
                var handler = _builder.Build(UpstreamConnectors.ForWorker(loops[i]), _limit is null ? null : share, out var ownConnect);
                if (ownConnect)
                {
                    HttpUpstreamLog.OwnConnectCallback(_logger, ClusterId);
                }
                pools[i] = new WorkerPool(loops[i], share, handler);
                HttpUpstreamLog.PoolCreated(_logger, ClusterId, loops[i].Cpu, _limit is null ? "unlimited" : share.ToString());
            }
            _pools = pools;
            _shared?.Retire();
            _shared = null;
            // The old pools' workers are gone with their epoll loops: their connections are already failed.
            foreach (var pool in old)
            {
                pool.Dispose();
            }
            return pools;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_lock)
            {
                _disposed = true;
                foreach (var pool in _pools)
                {
                    pool.Dispose();
                }
                _shared?.Dispose();
            }
        }
        base.Dispose(disposing);
    }

    /// <summary>One worker's pool: its handler chain, its share of the connection limit and its requests in flight.</summary>
    internal sealed class WorkerPool : DelegatingHandler
    {
        private int _inFlight;
        private volatile bool _retired;
        private int _disposed;

        public WorkerPool(IWorkerLoop? loop, int share, HttpMessageHandler? handler)
        {
            Loop = loop;
            Share = share;
            if (handler is not null)
            {
                InnerHandler = handler;
            }
        }

        /// <summary>The worker whose loop runs this pool's connections; null for the shared pool.</summary>
        public IWorkerLoop? Loop { get; }

        /// <summary>This pool's MaxConnectionsPerServer (int.MaxValue when the cluster sets none).</summary>
        public int Share { get; }

        public int InFlight => Volatile.Read(ref _inFlight);

        public Task<HttpResponseMessage> SendUncounted(HttpRequestMessage request, CancellationToken cancellationToken)
            => base.SendAsync(request, cancellationToken);

        /// <summary>The synchronous send, counted as <see cref="SendCounted"/> counts.</summary>
        public HttpResponseMessage SendSync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _inFlight);
            try
            {
                return base.Send(request, cancellationToken);
            }
            finally
            {
                if (Interlocked.Decrement(ref _inFlight) == 0 && _retired)
                {
                    Dispose();
                }
            }
        }

        /// <summary>As <see cref="SendUncounted"/>, counting the request while it waits for its response headers.</summary>
        public async Task<HttpResponseMessage> SendCounted(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _inFlight);
            try
            {
                return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (Interlocked.Decrement(ref _inFlight) == 0 && _retired)
                {
                    Dispose();
                }
            }
        }

        /// <summary>No new requests come here: dispose (closing idle connections) once none is in flight.</summary>
        public void Retire()
        {
            _retired = true;
            if (InFlight == 0)
            {
                Dispose();
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                base.Dispose(disposing);
            }
        }
    }
}
