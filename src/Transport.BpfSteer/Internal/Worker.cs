using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using BpfSteer.Interop;
using Microsoft.Extensions.Logging;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// One thread pinned to one CPU, running an epoll loop. It owns its listen sockets and every connection it accepted:
/// accept, recv and send happen here. It is also a <see cref="System.IO.Pipelines.PipeScheduler"/>, so pipe continuations scheduled on it
/// run on this thread (this CPU) between epoll waits.
/// </summary>
internal sealed class Worker : System.IO.Pipelines.PipeScheduler
{
    private const int MaxEvents = 256;

    private readonly Epoll _epoll = new();
    private readonly ConcurrentQueue<(Action<object?> Action, object? State)> _queue = new();
    private readonly Dictionary<ulong, IEpollHandler> _handlers = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private ulong _nextToken;
    private int _signalled;
    private volatile bool _stopping;
    private volatile bool _faulted;

    public Worker(int index, WorkerCounters counters, MemoryPool<byte> memoryPool, ILogger logger)
    {
        Index = index;
        Counters = counters;
        MemoryPool = memoryPool;
        _logger = logger;
        _thread = new Thread(Run) { IsBackground = true, Name = $"bpfsteer-cpu{counters.Cpu}" };
    }

    /// <summary>The worker's position in every reuseport group it belongs to (listen order).</summary>
    public int Index { get; }

    public int Cpu => Counters.Cpu;

    public WorkerCounters Counters { get; }

    public MemoryPool<byte> MemoryPool { get; }

    /// <summary>Connections this worker owns; touched on the worker thread only.</summary>
    public HashSet<BpfSteerConnection> Connections { get; } = new();

    public bool IsCurrentThread => Thread.CurrentThread == _thread;

    /// <summary>True once the loop died; the worker's listeners and connections have been failed.</summary>
    public bool IsFaulted => _faulted;

    /// <summary>Raised on the dying worker thread when its loop fails, after its connections were failed.</summary>
    public event Action<Worker, Exception>? Faulted;

    /// <summary>Starts the thread; completes once it is pinned (or faults if pinning failed).</summary>
    public Task StartAsync()
    {
        _thread.Start();
        return _started.Task;
    }

    /// <summary>Queues work for the worker thread; safe from any thread. FIFO.</summary>
    public override void Schedule(Action<object?> action, object? state)
    {
        if (_faulted)
        {
            // No loop any more: pipe continuations and clean-up still have to run somewhere.
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
            return;
        }
        _queue.Enqueue((action, state));
        // One eventfd write per batch: the loop clears the flag before it drains the queue, so nothing is missed.
        if (!IsCurrentThread && Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            try
            {
                _epoll.Wake();
            }
            catch (ObjectDisposedException)
            {
                // The loop has ended (transport disposed); nothing is left to run this work.
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> on the worker thread and completes when it has run.</summary>
    public Task InvokeAsync(Action action)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Schedule(static s =>
        {
            var (a, tcs) = ((Action, TaskCompletionSource))s!;
            try
            {
                a();
                tcs.TrySetResult();
            }
            catch (Exception ex)
            {
                tcs.TrySetException(ex);
            }
        }, (action, done));
        return done.Task;
    }

    /// <summary>Adds <paramref name="fd"/> to this worker's epoll set; worker thread only. Returns the token to remove it.</summary>
    public ulong Register(SafeHandle fd, uint events, IEpollHandler handler)
    {
        var token = ++_nextToken;
        _epoll.Add(fd, events, token);
        _handlers.Add(token, handler);
        return token;
    }

    /// <summary>Removes a registration; worker thread only. A descriptor already closed is not an error.</summary>
    public void Unregister(SafeHandle fd, ulong token)
    {
        if (_handlers.Remove(token) && !fd.IsClosed && !_faulted)
        {
            _epoll.Remove(fd);
        }
    }

    /// <summary>Asks the loop to exit once its queue is drained; completes when the thread has ended.</summary>
    public Task StopAsync()
    {
        Schedule(static s => ((Worker)s!)._stopping = true, this);
        return _stopped.Task;
    }

    private void Run()
    {
        var pinned = CpuAffinity.TrySetCurrentThreadAffinity([Cpu]);
        if (!pinned.IsSuccess)
        {
            _started.TrySetException(ErrnoMap.ToException(pinned.Errno, $"sched_setaffinity(cpu {Cpu})", "BpfSteer:Transport:Cpus"));
            _epoll.Dispose();
            _stopped.TrySetResult();
            return;
        }
        _started.TrySetResult();
        BpfSteerLog.WorkerStarted(_logger, Cpu, Index, CpuAffinity.CurrentThreadId());
        var events = new EpollEvent[MaxEvents];
        try
        {
            while (!_stopping)
            {
                RunQueued();
                if (_stopping)
                {
                    break;
                }
                var n = _epoll.Wait(events, _queue.IsEmpty ? -1 : 0);
                for (var i = 0; i < n; i++)
                {
                    Dispatch(events[i]);
                }
            }
            RunQueued();
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        finally
        {
            _epoll.Dispose();
            _stopped.TrySetResult();
        }
    }

    /// <summary>
    /// The loop died: fail its connections (FIN, pipes completed with the error), let the owners of its listen sockets
    /// close them (so the group does not keep a member nobody accepts from) and hand queued work to the thread pool.
    /// </summary>
    private void Fail(Exception ex)
    {
        BpfSteerLog.WorkerFailed(_logger, Cpu, ex);
        _faulted = true;
        foreach (var connection in Connections.ToArray())
        {
            connection.FailFromWorker(ex);
        }
        Connections.Clear();
        _handlers.Clear();
        try
        {
            Faulted?.Invoke(this, ex);
        }
        catch (Exception inner)
        {
            BpfSteerLog.HandlerFailed(_logger, Cpu, inner);
        }
        while (_queue.TryDequeue(out var item))
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(item.Action, item.State, preferLocal: false);
        }
    }

    private void Dispatch(in EpollEvent ev)
    {
        if (ev.Data == Epoll.WakeToken)
        {
            // Read the eventfd first, then clear the flag: the other order can swallow a wake written after the clear
            // and leave the flag set forever (every later Schedule would then skip its wake-up).
            _epoll.ResetWake();
            Volatile.Write(ref _signalled, 0);
            return;
        }
        if (_handlers.TryGetValue(ev.Data, out var handler))
        {
            try
            {
                handler.OnEvents(ev.Events);
            }
            catch (Exception ex)
            {
                BpfSteerLog.HandlerFailed(_logger, Cpu, ex);
            }
        }
    }

    private void RunQueued()
    {
        // Bounded: work queued while draining runs in the next round, after epoll had a chance to report I/O.
        for (var budget = _queue.Count; budget > 0 && _queue.TryDequeue(out var item); budget--)
        {
            try
            {
                item.Action(item.State);
            }
            catch (Exception ex)
            {
                BpfSteerLog.HandlerFailed(_logger, Cpu, ex);
            }
        }
    }
}
