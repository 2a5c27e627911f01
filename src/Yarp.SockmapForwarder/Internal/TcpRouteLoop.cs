using BpfSteer.Internal;
using BpfSteer.Interop;
using Microsoft.Extensions.Logging;
using Yarp.SockmapForwarder.DataPath.UserSpace;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// One CPU's TCP-route loop (an <see cref="EventLoop"/> pinned to that CPU): it owns one SO_REUSEPORT listen socket per
/// route it serves and runs the whole life of every connection those accept — admission, SNI peek, destination
/// choice, non-blocking connect with timeout and failover, PROXY header, user-space forwarding, close, access log and
/// metrics — on this one thread, with no thread-pool hop and no blocking call. Its tick (every 50 ms) checks the
/// connections' deadlines: SNI wait, connect timeout, idle timeout.
/// </summary>
internal sealed class TcpRouteLoop : EventLoop
{
    private const int TickMs = 50;

    private readonly List<TcpRouteConnection> _connections = new();
    private readonly List<TcpRouteListener.Member> _paused = new();
    private readonly List<AccessLogEntry> _accessLog = new();
    private readonly ILogger _logger;
    private int _count;
    private long _idleSpinHits;
    private long _idleSleeps;
    private long _movedOut;
    private volatile bool _stopped;

    /// <summary>Creates the loop; <see cref="EventLoop.StartAsync"/> starts its thread.</summary>
    public TcpRouteLoop(int cpu, TcpRouteListeners owner, TimeSpan idleSpin, ILogger logger)
        : base($"tcp-route-cpu{cpu}", cpu)
    {
        Cpu = cpu;
        Owner = owner;
        _logger = logger;
        TickInterval = TickMs;
        IdleSpin = idleSpin;
    }

    /// <summary>The CPU this loop is pinned to (the CPU its connections' forwarding work runs on).</summary>
    public int Cpu { get; }

    public TcpRouteListeners Owner { get; }

    /// <summary>Scratch buffer of the user-space path (loop thread only).</summary>
    public byte[] Scratch { get; } = new byte[LoopRelay.ScratchSize];

    /// <summary>Idle moments ended by work found while the loop kept polling (any thread; a snapshot).</summary>
    public long IdleSpinHits => Volatile.Read(ref _idleSpinHits);

    /// <summary>Idle moments after which the loop slept in epoll_wait (any thread; a snapshot).</summary>
    public long IdleSleeps => Volatile.Read(ref _idleSleeps);

    protected override void OnIdleEnded(bool slept) => Interlocked.Increment(ref slept ? ref _idleSleeps : ref _idleSpinHits);

    /// <summary>Relayed connections this loop has moved to another CPU's loop (<see cref="MoveShare"/>; any thread; a snapshot).</summary>
    public long MovedOut => Volatile.Read(ref _movedOut);

    /// <summary>Connections this loop holds now (any thread; a snapshot).</summary>
    public int ConnectionCount => Volatile.Read(ref _count);

    /// <summary>Loop thread: starts tracking a connection (its deadlines, abort at stop).</summary>
    public void Add(TcpRouteConnection connection)
    {
        connection.LoopSlot = _connections.Count;
        _connections.Add(connection);
        Volatile.Write(ref _count, _connections.Count);
    }

    /// <summary>Loop thread: forgets a finished connection (O(1): the last one takes its slot).</summary>
    public void Remove(TcpRouteConnection connection)
    {
        var slot = connection.LoopSlot;
        if (slot < 0 || slot >= _connections.Count || _connections[slot] != connection)
        {
            return;
        }
        var last = _connections[^1];
        _connections[slot] = last;
        last.LoopSlot = slot;
        _connections.RemoveAt(_connections.Count - 1);
        connection.LoopSlot = -1;
        Volatile.Write(ref _count, _connections.Count);
    }

    /// <summary>
    /// Loop thread: queues a connection's access-log line; the tick writes the queued lines together (at most 50 ms
    /// later), so a logging provider with a writer thread (the console's) is woken once per tick, not once per connection.
    /// </summary>
    public void Log(in AccessLogEntry entry)
    {
        _accessLog.Add(entry);
        if (_accessLog.Count >= 1024)
        {
            FlushAccessLog();
        }
    }

    /// <summary>Loop thread: a listen socket ran out of descriptors or memory; it is polled again after the back-off.</summary>
    public void Pause(TcpRouteListener.Member member) => _paused.Add(member);

    /// <summary>
    /// Loop thread: moves <paramref name="share"/> (0..1, rounded up) of this loop's movable connections — relayed, on a
    /// route not pinned to a CPU — to <paramref name="target"/> (TcpRouteConnection.Move.cs). Called when the balancer
    /// raises this CPU's spill share: the same share of the connections already here follows the new ones. Returns how
    /// many moved.
    /// </summary>
    public int MoveShare(TcpRouteLoop target, double share)
    {
        if (!IsCurrentThread || _stopped || share <= 0)
        {
            return 0; // a loop that died hands queued work to the thread pool: never touch its list from there
        }
        var movable = 0;
        foreach (var connection in _connections)
        {
            movable += connection.IsMovable ? 1 : 0;
        }
        var wanted = (int)Math.Ceiling(Math.Min(share, 1) * movable);
        var moved = 0;
        // Descending: a connection that leaves is swapped with the last one, which was already visited.
        for (var i = _connections.Count - 1; i >= 0 && moved < wanted; i--)
        {
            if (i < _connections.Count && _connections[i].TryMoveTo(target))
            {
                moved++;
            }
        }
        Interlocked.Add(ref _movedOut, moved);
        return moved;
    }

    /// <summary>Aborts every connection of <paramref name="route"/> (or all, when null) on this loop; completes when done.</summary>
    public Task AbortAsync(TcpRouteState? route) => RunAsync(() => AbortOnLoop(route));

    /// <summary>
    /// Runs <paramref name="action"/> on the loop thread; once the loop has stopped (or died) there is nothing left to
    /// run it for, so it completes at once. Work queued in the instant the loop ends is given up after a second.
    /// </summary>
    public Task RunAsync(Action action)
    {
        if (_stopped || IsFaulted)
        {
            return Task.CompletedTask;
        }
        if (IsCurrentThread)
        {
            action();
            return Task.CompletedTask;
        }
        return InvokeAsync(action).WaitAsync(TimeSpan.FromSeconds(1)).ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    protected override void OnTick(long now)
    {
        FlushAccessLog();
        // Descending: a connection that finishes is swapped with the last one, which was already visited.
        for (var i = _connections.Count - 1; i >= 0; i--)
        {
            if (i < _connections.Count)
            {
                _connections[i].Tick(now);
            }
        }
        for (var i = _paused.Count - 1; i >= 0; i--)
        {
            if (_paused[i].TryResume(now))
            {
                _paused.RemoveAt(i);
            }
        }
    }

    protected override Exception? OnPinningFailed(int cpu, PosixResult result)
    {
        // Unpinned is slower, not wrong: the routes keep working and the log says why.
        SockmapForwarderLog.LoopPinFailed(_logger, cpu, result.ToString());
        return null;
    }

    protected override void OnStopped()
    {
        _stopped = true;
        AbortOnLoop(null);
        FlushAccessLog();
    }

    protected override void OnFaulted(Exception error)
    {
        _stopped = true;
        SockmapForwarderLog.LoopFailed(_logger, Cpu, error);
        AbortOnLoop(null);
        FlushAccessLog();
    }

    protected override void OnHandlerFailed(Exception error) => SockmapForwarderLog.LoopHandlerFailed(_logger, Cpu, error);

    private void FlushAccessLog()
    {
        foreach (var entry in _accessLog)
        {
            entry.Write(Owner.AccessLog);
        }
        _accessLog.Clear();
    }

    private void AbortOnLoop(TcpRouteState? route)
    {
        for (var i = _connections.Count - 1; i >= 0; i--)
        {
            if (i < _connections.Count && (route is null || _connections[i].Route == route))
            {
                _connections[i].Abort();
            }
        }
    }
}
