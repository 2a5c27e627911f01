using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using BpfSteer.Interop;

namespace BpfSteer.Internal;

/// <summary>
/// One thread running one epoll set: the loop type behind the transport's workers, the sockmap engine and the splice
/// loops. Descriptors are registered with a handler (loop thread only), and events reach it without a lock or an
/// allocation. Other threads hand work over with <see cref="Schedule"/> (an eventfd wakes the loop), so the loop is
/// also a <see cref="PipeScheduler"/>. Optional: pinning to one CPU, a periodic tick. An owner adds its behaviour
/// through the protected hooks, which all run on the loop thread. The loop itself is in EventLoop.Run.cs.
/// </summary>
internal abstract partial class EventLoop : PipeScheduler
{
    private const int MaxEvents = 256;

    private readonly Epoll _epoll = new();
    private readonly ConcurrentQueue<(Action<object?> Action, object? State)> _queue = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HandlerTable _handlers = new();
    private readonly Thread _thread;
    private readonly int? _cpu;
    private int _signalled;
    private int _tickInterval = Timeout.Infinite;
    private long _nextTick;
    private long _idleSpinTicks;
    private int _startCalled;
    private volatile bool _stopping;
    private volatile bool _faulted;

    /// <param name="threadName">The thread's name (visible in /proc, and how tests find it).</param>
    /// <param name="cpu">The CPU to pin the thread to, or null to leave it unpinned.</param>
    protected EventLoop(string threadName, int? cpu)
    {
        _cpu = cpu;
        _thread = new Thread(Run) { IsBackground = true, Name = threadName };
    }

    public bool IsCurrentThread => Thread.CurrentThread == _thread;

    /// <summary>True once the loop died; <see cref="OnFaulted"/> has run and queued work goes to the thread pool.</summary>
    public bool IsFaulted => _faulted;

    /// <summary>
    /// The period of <see cref="OnTick"/> in milliseconds, or <see cref="Timeout.Infinite"/> for none (the default).
    /// Set before the start or on the loop thread; a value set in <see cref="OnTick"/> applies to the next period.
    /// </summary>
    protected int TickInterval
    {
        get => _tickInterval;
        set => _tickInterval = value;
    }

    /// <summary>The largest idle spin an owner accepts from its options (a longer one mostly burns idle CPU).</summary>
    public static readonly TimeSpan MaxIdleSpin = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// How long the loop keeps polling, when it runs out of events, before it sleeps in epoll_wait; zero (the default)
    /// for no polling. Set before the start. See EventLoop.Run.cs (WaitIdle).
    /// </summary>
    protected TimeSpan IdleSpin
    {
        get => Stopwatch.GetElapsedTime(0, _idleSpinTicks);
        set => _idleSpinTicks = (long)(value.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>Starts the thread; completes once it runs (pinned when a CPU was given), or faults if pinning was required and failed.</summary>
    public Task StartAsync()
    {
        Interlocked.Exchange(ref _startCalled, 1);
        _thread.Start();
        return _started.Task;
    }

    /// <summary>Queues work for the loop thread; safe from any thread. FIFO.</summary>
    public sealed override void Schedule(Action<object?> action, object? state)
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
                // The loop has ended; nothing is left to run this work.
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> on the loop thread and completes when it has run.</summary>
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

    /// <summary>Descriptors registered right now (a snapshot from any thread: status and leak tests).</summary>
    public int RegistrationCount => _handlers.Count;

    /// <summary>Adds <paramref name="fd"/> to the epoll set; loop thread only. Returns the token that removes it (never 0).</summary>
    public ulong Register(SafeHandle fd, uint events, IEventLoopHandler handler)
    {
        var token = _handlers.Reserve();
        try
        {
            _epoll.Add(fd, events, token);
        }
        catch
        {
            _handlers.Cancel(token);
            throw;
        }
        _handlers.Commit(token, handler);
        return token;
    }

    /// <summary>
    /// Removes a registration; loop thread only. A token already removed (or 0), and a descriptor already closed, are
    /// not errors. Events of the current batch that still carry the token are dropped.
    /// </summary>
    public void Unregister(SafeHandle fd, ulong token)
    {
        if (!_faulted && _handlers.Remove(token) && !fd.IsClosed)
        {
            _epoll.Remove(fd);
        }
    }

    /// <summary>Asks the loop to exit once its queue is drained (after <see cref="OnStopped"/>); completes when the thread has ended.</summary>
    public Task StopAsync()
    {
        if (Volatile.Read(ref _startCalled) == 0)
        {
            _epoll.Dispose();
            _stopped.TrySetResult();
            return _stopped.Task;
        }
        Schedule(static s => ((EventLoop)s!)._stopping = true, this);
        return _stopped.Task;
    }

    /// <summary><see cref="StopAsync"/>, waiting at most <paramref name="timeout"/> for the thread to end.</summary>
    public void Stop(TimeSpan timeout) => StopAsync().Wait(timeout);

    /// <summary>
    /// Pinning to <paramref name="cpu"/> failed: return the exception that fails <see cref="StartAsync"/>, or null to run
    /// unpinned. Defaults to null.
    /// </summary>
    protected virtual Exception? OnPinningFailed(int cpu, PosixResult result) => null;

    /// <summary>The thread runs (and is pinned, if asked); before any queued work.</summary>
    protected virtual void OnStarted()
    {
    }

    /// <summary>Every <see cref="TickInterval"/> milliseconds; <paramref name="now"/> is <see cref="Environment.TickCount64"/>.</summary>
    protected virtual void OnTick(long now)
    {
    }

    /// <summary>
    /// With an <see cref="IdleSpin"/>: the loop had run out of events and that idle moment ended, either by an event or
    /// queued work found while polling (<paramref name="slept"/> false) or by the spin running out, after which the
    /// loop sleeps (true).
    /// </summary>
    protected virtual void OnIdleEnded(bool slept)
    {
    }

    /// <summary>The loop is stopping: the last queued work has run and the epoll set still exists. End what is registered.</summary>
    protected virtual void OnStopped()
    {
    }

    /// <summary>A handler, a queued action or a hook threw; the loop goes on.</summary>
    protected abstract void OnHandlerFailed(Exception error);

    /// <summary>
    /// The loop itself failed (epoll_wait): nothing will poll again, so fail what the loop owned. Runs on the dying
    /// thread; <see cref="IsFaulted"/> is already true, so work scheduled from here on runs on the thread pool.
    /// </summary>
    protected abstract void OnFaulted(Exception error);
}
