using System.Net.Sockets;
using BpfSteer.Interop;
using BpfSteer.Internal;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath.Sockmap;

/// <summary>
/// One connection on the sockmap path. Sides: 0 = pc (the client socket), 1 = pb (the backend socket).
/// Direction d moves bytes from side d to side 1-d; its counters live in slot 2*Index+d.
/// Set-up (<see cref="TryPair"/>) runs on the caller's thread; everything after <see cref="Attach"/> runs on the
/// engine's loop thread.
/// </summary>
internal sealed unsafe partial class SockmapConnection
{
    private readonly SockmapEngine _engine;
    private readonly Socket[] _sockets = new Socket[2];
    private readonly ulong[] _cookies = new ulong[2];
    private readonly ulong[] _tokens = new ulong[2];
    private readonly SideEvents[] _sides;
    private readonly TaskCompletionSource<ForwardingResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Direction[] _dirs = [new(), new()];
    private readonly TimeSpan _idleTimeout;
    private readonly ForwardingRequest _request;
    private long _lastActivity;
    private bool _inMaps;
    private bool _started;

    public SockmapConnection(SockmapEngine engine, int index, ForwardingRequest request)
    {
        _engine = engine;
        Index = index;
        _request = request;
        _sockets[0] = request.ClientSocket!;
        _sockets[1] = request.Backend;
        _idleTimeout = request.Route.IdleTimeout;
        _sides = [new SideEvents(this, 0), new SideEvents(this, 1)];
    }

    public SockmapEngine Engine => _engine;

    public int Index { get; }

    public bool IsFinished { get; private set; }

    public Task<ForwardingResult> Completion => _done.Task;

    /// <summary>State of one direction (source side d to destination side 1-d).</summary>
    private sealed class Direction
    {
        public long Early;            // bytes written by user space before pairing (buffered data, drained queue)
        public long Base;             // destination's bytes_acked + SIOCOUTQ at pairing
        public long UserWritten;      // bytes user space wrote to the destination since pairing (parked bytes)
        public ulong BarrierRedirected = ulong.MaxValue; // `redirected` value for which the barrier last held
        public ulong LastRedirected;
        public ulong LastPassed;
        public byte[]? Pending;       // bytes read from the source, not yet written to the destination
        public int PendingOffset;
        public int PendingCount;
        public bool SourceEof;        // recv(source) returned 0
        public bool RdHup;            // RDHUP/HUP seen, recv not yet 0
        public bool DestinationShut;  // shutdown(destination, SHUT_WR) done
    }

    private ConnSlot* Slot(int d) => _engine.Slot(Index * 2 + d);

    /// <summary>
    /// Bytes this connection holds in kernel queues the TCP accounting does not bound (racy snapshot, any thread):
    /// per direction, redirected but not yet in the destination's send queue (psock backlog), plus parked bytes
    /// not yet read by user space. The largest direction is returned.
    /// </summary>
    public long UnboundedQueueBytes()
    {
        long max = 0;
        for (var d = 0; d < 2 && !IsFinished; d++)
        {
            var s = Slot(d);
            var dir = _dirs[d];
            var total = SocketIo.QueuedTotal(_sockets[1 - d]);
            var backlog = total < 0 ? 0 : (long)Volatile.Read(ref s->Redirected) - (total - dir.Base - Volatile.Read(ref dir.UserWritten));
            var parked = (long)(Volatile.Read(ref s->Passed) - Volatile.Read(ref s->Consumed));
            max = Math.Max(max, Math.Max(backlog, 0) + Math.Max(parked, 0));
        }
        return max;
    }

    /// <summary>Registers both sockets with the engine's loop (engine thread).</summary>
    public void Attach()
    {
        _started = true;
        _lastActivity = Environment.TickCount64;
        _tokens[0] = _engine.Watch(_sockets[0].SafeHandle, _sides[0]);
        _tokens[1] = _engine.Watch(_sockets[1].SafeHandle, _sides[1]);
        // RDHUP may have happened between pairing and registration; edge-triggered epoll would not report it again.
        ReadSource(0);
        ReadSource(1);
    }

    /// <summary>Routes a socket's epoll events to <see cref="OnEvent"/> with its side.</summary>
    private sealed class SideEvents(SockmapConnection connection, int side) : IEventLoopHandler
    {
        public void OnEvents(uint events) => connection.OnEvent(side, events);
    }

    /// <summary>An epoll event on <paramref name="side"/> (engine thread).</summary>
    private void OnEvent(int side, uint events)
    {
        if (IsFinished)
        {
            return;
        }
        if ((events & EPOLLERR) != 0)
        {
            var error = SocketIo.TakeError(_sockets[side]);
            // EPIPE after a FIN went through the peer's backlog is not an error (KERNEL-NOTES 5, 13).
            if (SocketIo.IsReset(error))
            {
                ResetFrom(side);
                return;
            }
        }
        if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLIN)) != 0)
        {
            // EPOLLIN: parked bytes reached the receive path (redirected bytes do not make the socket readable, so
            // this costs nothing while the verdict redirects). Writing them at once, not at the next tick, is what
            // lets user space catch up (consumed == passed) so the verdict can resume redirecting.
            _dirs[side].RdHup |= (events & (EPOLLRDHUP | EPOLLHUP)) != 0;
            ReadSource(side);
            // Propagate the FIN now rather than at the next tick: short connections close at network speed.
            if (!IsFinished && _dirs[side].SourceEof)
            {
                TryPropagateEof(side);
            }
            if (!IsFinished && _dirs[0].DestinationShut && _dirs[1].DestinationShut)
            {
                Finish(CloseReason.Completed, resetBoth: false);
            }
        }
    }

    /// <summary>Periodic work (engine thread); returns true when this connection wants the fast tick.</summary>
    public bool Tick(long now)
    {
        if (IsFinished)
        {
            return false;
        }
        var hot = false;
        for (var d = 0; d < 2 && !IsFinished; d++)
        {
            hot |= TickDirection(d, now);
        }
        if (IsFinished)
        {
            return false;
        }
        if (_dirs[0].DestinationShut && _dirs[1].DestinationShut)
        {
            Finish(CloseReason.Completed, resetBoth: false);
            return false;
        }
        if (_idleTimeout > TimeSpan.Zero && _idleTimeout != Timeout.InfiniteTimeSpan && now - _lastActivity > (long)_idleTimeout.TotalMilliseconds)
        {
            Finish(CloseReason.IdleTimeout, resetBoth: false);
            return false;
        }
        return hot;
    }

    private bool TickDirection(int d, long now)
    {
        var dir = _dirs[d];
        var slot = Slot(d);
        var redirected = Volatile.Read(ref slot->Redirected);
        var passed = Volatile.Read(ref slot->Passed);
        if (redirected != dir.LastRedirected || passed != dir.LastPassed)
        {
            dir.LastRedirected = redirected;
            dir.LastPassed = passed;
            _lastActivity = now;
        }
        if (ResetIfHoled(d))
        {
            return false;
        }
        if (dir.DestinationShut)
        {
            return false;
        }
        var hot = false;
        if (passed > Volatile.Read(ref slot->Consumed) || dir.PendingCount > 0 || (dir.RdHup && !dir.SourceEof))
        {
            ReadSource(d);
            hot = true;
        }
        if (dir.SourceEof && !IsFinished)
        {
            hot |= TryPropagateEof(d);
        }
        return hot;
    }

    /// <summary>
    /// Rule 3: after recv(source) == 0, shut the destination down for writing only once every redirected byte has
    /// reached its send queue. Returns true while still waiting.
    /// </summary>
    private bool TryPropagateEof(int d)
    {
        var dir = _dirs[d];
        if (dir.DestinationShut || ResetIfHoled(d))
        {
            return false;
        }
        if (dir.PendingCount == 0 && MeasureBarrier(d))
        {
            NativeSocket.TryShutdown(_sockets[1 - d].SafeHandle, SHUT_WR);
            dir.DestinationShut = true;
            return false;
        }
        return true;
    }

    /// <summary>
    /// The verdict dropped an skb whose already-forwarded head it could not cut (see cut_seen_head) and drops every
    /// later one of this direction: bytes are missing, so the stream must end with a reset, never with a FIN that
    /// would pass it off as complete. True when the connection was reset.
    /// </summary>
    private bool ResetIfHoled(int d)
    {
        if (Volatile.Read(ref Slot(d)->TrimFailed) == 0)
        {
            return false;
        }
        DataPathLog.OverlapNotCut(_engine.Logger, _request.RouteId, d == 0 ? "client to backend" : "backend to client");
        Finish(d == 0 ? CloseReason.ClientOverlapReset : CloseReason.BackendOverlapReset, resetBoth: true);
        return true;
    }

    /// <summary>
    /// Measures how much of `redirected` the destination has taken and publishes it in the slot (the verdict's
    /// high-mark input). True when every redirected byte is in the destination's send queue.
    /// </summary>
    private bool MeasureBarrier(int d)
    {
        var dir = _dirs[d];
        var slot = Slot(d);
        var redirected = Volatile.Read(ref slot->Redirected);
        if (dir.BarrierRedirected == redirected)
        {
            return true;
        }
        var total = SocketIo.QueuedTotal(_sockets[1 - d]);
        if (total < 0)
        {
            return false;
        }
        var written = total - dir.Base - dir.UserWritten;
        if (written > 0)
        {
            // Never above `redirected`: the verdict computes redirected - written unsigned.
            Volatile.Write(ref slot->Written, (ulong)Math.Min(written, (long)redirected));
        }
        if (written >= (long)redirected)
        {
            dir.BarrierRedirected = redirected;
            return true;
        }
        return false;
    }
}
