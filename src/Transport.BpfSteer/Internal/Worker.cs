using System.Buffers;
using BpfSteer.Interop;
using BpfSteer.Internal;
using Microsoft.Extensions.Logging;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// One <see cref="EventLoop"/> pinned to one CPU. It owns its listen sockets and every connection it accepted: accept,
/// recv and send happen on its thread. As the loop is a <see cref="System.IO.Pipelines.PipeScheduler"/>, pipe
/// continuations scheduled on it run on this thread (this CPU) between epoll waits. Other components see it as an
/// <see cref="IWorkerLoop"/> (Worker.LoopContract.cs).
/// </summary>
internal sealed partial class Worker : EventLoop
{
    private readonly ILogger _logger;

    public Worker(int index, WorkerCounters counters, MemoryPool<byte> memoryPool, bool inlineApplication, TimeSpan idleSpin, ILogger logger)
        : base($"bpfsteer-cpu{counters.Cpu}", counters.Cpu)
    {
        Index = index;
        Counters = counters;
        MemoryPool = memoryPool;
        RunsApplicationInline = inlineApplication;
        _logger = logger;
        TickInterval = TickPeriodMs;
        IdleSpin = idleSpin;
    }

    /// <summary>How often the loop records that it runs (for <see cref="WorkerWatchdog"/>).</summary>
    public const int TickPeriodMs = 200;

    private long _lastTick = Environment.TickCount64;

    /// <summary>When the loop last came round (Environment.TickCount64); stale while a callback blocks the thread.</summary>
    public long LastTick => Volatile.Read(ref _lastTick);

    /// <summary>The worker's position in every reuseport group it belongs to (listen order).</summary>
    public int Index { get; }

    public int Cpu => Counters.Cpu;

    public WorkerCounters Counters { get; }

    public MemoryPool<byte> MemoryPool { get; }

    /// <summary>Where the sends of this worker's HTTP/2 connections run (thread-pool work items, batched).</summary>
    public SendQueue SendQueue { get; } = new();

    /// <summary>Connections this worker owns; touched on the worker thread only.</summary>
    public HashSet<BpfSteerConnection> Connections { get; } = new();

    /// <summary>Raised on the dying worker thread when its loop fails, after its connections were failed.</summary>
    public event Action<Worker, Exception>? Faulted;

    /// <summary>A worker that cannot run on its CPU would break the CPU → worker mapping: the transport does not start.</summary>
    protected override Exception OnPinningFailed(int cpu, PosixResult result)
        => ErrnoMap.ToException(result.Errno, $"sched_setaffinity(cpu {cpu})", "BpfSteer:Transport:Cpus");

    protected override void OnIdleEnded(bool slept) => Counters.OnIdleEnded(slept);

    protected override void OnStarted()
    {
        t_current = this;
        Volatile.Write(ref _lastTick, Environment.TickCount64);
        BpfSteerLog.WorkerStarted(_logger, Cpu, Index, CpuAffinity.CurrentThreadId());
    }

    protected override void OnTick(long now) => Volatile.Write(ref _lastTick, now);

    protected override void OnHandlerFailed(Exception error) => BpfSteerLog.HandlerFailed(_logger, Cpu, error);

    protected override void OnStopped() => StopRegistrations(null);

    /// <summary>
    /// The loop died: fail its connections (FIN, pipes completed with the error) and let the owners of its listen sockets
    /// close them, so the group does not keep a member nobody accepts from.
    /// </summary>
    protected override void OnFaulted(Exception error)
    {
        BpfSteerLog.WorkerFailed(_logger, Cpu, error);
        StopRegistrations(error);
        foreach (var connection in Connections.ToArray())
        {
            connection.FailFromWorker(error);
        }
        Connections.Clear();
        try
        {
            Faulted?.Invoke(this, error);
        }
        catch (Exception inner)
        {
            BpfSteerLog.HandlerFailed(_logger, Cpu, inner);
        }
    }
}
