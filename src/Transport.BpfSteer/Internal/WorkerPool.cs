using System.Buffers;
using BpfSteer.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace BpfSteer.Transport.Internal;

/// <summary>The pinned workers, one per configured CPU in group order; shared by every endpoint the transport binds.</summary>
internal sealed class WorkerPool
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly List<MemoryPool<byte>> _ownedPools = new();
    private readonly ILogger _logger;
    private WorkerWatchdog? _watchdog;

    private WorkerPool(IReadOnlyList<int> cpus, ILogger logger)
    {
        Cpus = cpus;
        _logger = logger;
    }

    public IReadOnlyList<int> Cpus { get; }

    /// <summary>Moves a share of a saturated CPU's new connections to an idle worker (SpillOver); null when off.</summary>
    public ReuseportBalancer? Balancer { get; private set; }

    public List<Worker> Workers { get; } = new();

    /// <summary>The workers as <see cref="IWorkerLoop"/>s, in the same order.</summary>
    public IReadOnlyList<IWorkerLoop> Loops => Workers;

    public static async Task<WorkerPool> StartAsync(IReadOnlyList<int> cpus, Func<int, WorkerCounters> counters,
        IMemoryPoolFactory<byte>? memoryPoolFactory, ILoggerFactory loggerFactory, bool inlineApplication, bool spillOver, TimeSpan idleSpin)
    {
        var pool = new WorkerPool(cpus, loggerFactory.CreateLogger<WorkerPool>());
        var logger = loggerFactory.CreateLogger("BpfSteer.Transport.Worker");
        if (spillOver && cpus.Count > 1)
        {
            pool.Balancer = new ReuseportBalancer(cpus, state => BpfSteerLog.SpillChanged(pool._logger, state), spillRaised: null);
        }
        for (var i = 0; i < cpus.Count; i++)
        {
            // One memory pool per worker: its blocks are touched by that worker's CPU.
            var memory = memoryPoolFactory?.Create(new MemoryPoolOptions { Owner = "BpfSteer" });
            if (memory is not null)
            {
                pool._ownedPools.Add(memory);
            }
            pool.Workers.Add(new Worker(i, counters(cpus[i]), memory ?? MemoryPool<byte>.Shared, inlineApplication, idleSpin, logger));
        }
        try
        {
            await Task.WhenAll(pool.Workers.Select(w => w.StartAsync())).ConfigureAwait(false);
            pool._watchdog = new WorkerWatchdog(pool.Workers, logger);
        }
        catch
        {
            await pool.StopAsync().ConfigureAwait(false);
            throw;
        }
        return pool;
    }

    /// <summary>Aborts what is still open (Kestrel normally closed it already), waits for it to close, ends the threads.</summary>
    public async Task StopAsync()
    {
        _watchdog?.Dispose();
        Balancer?.Dispose();
        var deadline = DateTime.UtcNow + DrainTimeout;
        foreach (var worker in Workers)
        {
            try
            {
                await worker.InvokeAsync(() =>
                {
                    worker.OnStopping();
                    foreach (var connection in worker.Connections.ToArray())
                    {
                        connection.Abort(new ConnectionAbortedException("The BpfSteer transport is stopping."));
                    }
                }).WaitAsync(DrainTimeout).ConfigureAwait(false);
                while (worker.Counters.ActiveConnections > 0 && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(10).ConfigureAwait(false);
                }
            }
            catch (TimeoutException)
            {
                // A worker that does not answer is stopped below anyway.
            }
        }
        await Task.WhenAll(Workers.Select(w => w.StopAsync())).WaitAsync(DrainTimeout).ConfigureAwait(false);
        foreach (var memory in _ownedPools)
        {
            memory.Dispose();
        }
    }
}
