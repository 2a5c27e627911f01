using System.Net.Sockets;
using BpfSteer.Interop;
using BpfSteer.Internal;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath.Sockmap;

/// <summary>
/// One connection on the sockmap path. Sides: 0 = pc (the client socket), 1 = pb (the backend socket).
/// Direction d moves bytes from side d to side 1-d; its counters live in slot 2*Index+d.
/// Set-up (<see cref="PairAsync"/>) runs for the caller, never blocking its thread;
/// everything after <see cref="Attach"/> runs on the engine's loop thread.
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

    /// <summary>The route's counter index.</summary>
    public int RouteIndex => _request.RouteIndex;

    /// <summary>
    /// This connection's share of the process budget (both directions), whether a direction is parked now, and whether
    /// one is parked because the budget was used up (racy snapshot, any thread).
    /// </summary>
    public (long Queued, long LargestBacklog, bool Parked, bool HeldByBudget) QueueSnapshot()
    {
        long queued = 0, largest = 0;
        bool parked = false, held = false;
        for (var d = 0; d < 2; d++)
        {
            var s = Slot(d);
            queued += (long)SockmapEngine.Share(s);
            largest = Math.Max(largest, (long)Volatile.Read(ref s->BacklogPeak));
            if (Volatile.Read(ref s->Parked) != 0)
            {
                parked = true;
                held |= Volatile.Read(ref s->ParkReason) == (uint)ParkReason.Budget;
            }
        }
        return (queued, largest, parked, held);
    }

    /// <summary>Parks of both directions by reason, and parks ended by a resume (read at finish).</summary>
    public TcpRouteParks ParkCounts { get; private set; } = TcpRouteParks.None;

    /// <summary>The largest backlog either direction had, as the verdict measured it (read at finish).</summary>
    public long LargestBacklog { get; private set; }

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
        public long RateSince;        // when the drain rate was last sampled (AdaptSendBuffer)
        public long RateAcked;        // the destination's bytes_acked then
        public ulong RateRedirected;  // `redirected` then: unchanged means the direction is idle
        public int SendBuffer;        // the destination's send buffer as last set by AdaptSendBuffer (0: autotuned)
        public bool ReceiveBufferCapped; // OnParked capped the source's receive buffer
        public long NextPoll;         // the tick looks at a parked direction again from then (Tick back-off)
        public int PollMs;
        public long ParkedSince;      // when user space first saw this direction parked (0: not parked)
        public bool Starving;         // a resume waits for the source's queue to stop growing (TryResume)
        public long StarveSince;
        public long StarvePen = -1;   // the source's queued bytes at the previous look
        public long NextResumeAttempt;
        public long Resumes;          // parks ended by TryResume
    }

    private ConnSlot* Slot(int d) => _engine.Slot(Index * 2 + d);

    /// <summary>Measures each direction's backlog and publishes it as its share of the process budget (engine thread).</summary>
    public void RefreshAccounting()
    {
        for (var d = 0; d < 2 && !IsFinished; d++)
        {
            var s = Slot(d);
            if (SockmapEngine.Share(s) == 0)
            {
                continue;
            }
            var total = SocketIo.QueuedTotal(_sockets[1 - d]);
            if (total < 0)
            {
                continue;
            }
            var written = total - _dirs[d].Base - Volatile.Read(ref _dirs[d].UserWritten);
            var backlog = (long)Volatile.Read(ref s->Redirected) - written;
            _engine.Account(s, (ulong)Math.Max(backlog, 0));
        }
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
            // Only a reset is an error; EPIPE after a FIN went through the peer's backlog is not (docs/design.md,
            // "Sockmap: resets" and "Sockmap: FIN and EPIPE").
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
        if ((events & EPOLLOUT) != 0 && !IsFinished)
        {
            // The socket took bytes off its send queue: the direction writing to it may move again (parked bytes, the
            // barrier); look at it now rather than at the end of its poll back-off.
            var d = 1 - side;
            var slot = Slot(d);
            if (Volatile.Read(ref slot->Passed) != Volatile.Read(ref slot->Consumed) || _dirs[d].PendingCount > 0)
            {
                _dirs[d].NextPoll = 0;
                _dirs[d].PollMs = 0;
                ReadSource(d);
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

    /// <summary>
    /// The largest receive buffer (the kernel's value) a parked source keeps: locked when a park starts, it bounds what the park
    /// holds, charged to the source socket, once the window advertised before has been used (and so the buffer a resume peeks).
    /// </summary>
    internal const int ParkedReceiveBuffer = 4 << 20;

    /// <summary>
    /// The send buffer (the kernel's value) TCP's own autotuning stops at by default (net.ipv4.tcp_wmem): a flow faster than it
    /// can fill in <see cref="SendBufferMs"/> gets more from <see cref="AdaptSendBuffer"/>; no buffer is made smaller than this.
    /// </summary>
    private const int AutotunedSendBuffer = 4 << 20;

    private const int MaxSendBuffer = 32 << 20;

    /// <summary>How much of its own drain a destination's send buffer holds: four jiffies at HZ=250.</summary>
    private const int SendBufferMs = 16;

    /// <summary>How often a flowing direction's drain rate is measured.</summary>
    private const int RateIntervalMs = 100;

    /// <summary>
    /// Lets a fast destination's send buffer hold <see cref="SendBufferMs"/> of its measured drain rate (bytes acknowledged per
    /// second). The verdict redirects only what that buffer can take: with room for a few jiffies, the kernel's backlog worker
    /// can fall behind (its CPU busy) without the direction parking. Below <see cref="AutotunedSendBuffer"/> the kernel's own
    /// autotuning is left alone: it keeps a slow reader's buffer small (its window stays shut, so its congestion window and
    /// send buffer do not grow), and a slow reader's bytes park at once, in charged memory. One TCP_INFO per flowing
    /// direction and interval; nothing while idle.
    /// </summary>
    private void AdaptSendBuffer(int d, long now)
    {
        var dir = _dirs[d];
        if (now - dir.RateSince < RateIntervalMs)
        {
            return;
        }
        var redirected = Volatile.Read(ref Slot(d)->Redirected);
        if (redirected == dir.RateRedirected && dir.RateSince != 0)
        {
            dir.RateSince = now;
            return;
        }
        if (!NativeSocket.TryGetTcpInfo(_sockets[1 - d].SafeHandle, out var info).IsSuccess)
        {
            return;
        }
        var acked = (long)info.BytesAcked;
        if (dir.RateSince != 0)
        {
            var rate = (acked - dir.RateAcked) * 1000 / Math.Max(1, now - dir.RateSince);
            var want = (int)Math.Min(rate * SendBufferMs / 1000, MaxSendBuffer);
            var grow = want > Math.Max(dir.SendBuffer, AutotunedSendBuffer) * 5 / 4;
            var shrink = dir.SendBuffer > 0 && Math.Max(want, AutotunedSendBuffer) < dir.SendBuffer * 3 / 4;
            if (grow || shrink)
            {
                var size = Math.Max(want, AutotunedSendBuffer);
                NativeSocket.TrySetInt(_sockets[1 - d].SafeHandle, SOL_SOCKET, SO_SNDBUFFORCE, size / 2);
                dir.SendBuffer = size;
            }
        }
        dir.RateSince = now;
        dir.RateAcked = acked;
        dir.RateRedirected = redirected;
    }

    /// <summary>A park started on direction <paramref name="d"/>: cap the source's receive buffer (see <see cref="ParkedReceiveBuffer"/>).</summary>
    private void OnParked(int d)
    {
        var dir = _dirs[d];
        if (dir.ReceiveBufferCapped)
        {
            return;
        }
        dir.ReceiveBufferCapped = true;
        var current = NativeSocket.TryGetInt(_sockets[d].SafeHandle, SOL_SOCKET, SO_RCVBUF);
        if (!current.IsSuccess || current.IntValue > ParkedReceiveBuffer)
        {
            NativeSocket.TrySetInt(_sockets[d].SafeHandle, SOL_SOCKET, SO_RCVBUF, ParkedReceiveBuffer / 2);
        }
    }

    private bool TickDirection(int d, long now)
    {
        var dir = _dirs[d];
        if (Volatile.Read(ref Slot(d)->HighMark) != 0)
        {
            AdaptSendBuffer(d, now);
        }
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
        var consumed = Volatile.Read(ref slot->Consumed);
        if (passed > consumed || dir.PendingCount > 0 || (dir.RdHup && !dir.SourceEof))
        {
            hot = true;
            if (now >= dir.NextPoll)
            {
                ReadSource(d);
                // A parked direction whose destination takes nothing (a reader that stopped) is looked at less and less
                // often, up to MaxPollMs: a thousand stalled readers must not cost a thousand polls per millisecond.
                var progressed = Volatile.Read(ref slot->Consumed) != consumed || dir.SourceEof || dir.Starving;
                dir.PollMs = progressed ? 0 : Math.Clamp(dir.PollMs * 2, 1, MaxPollMs);
                dir.NextPoll = now + dir.PollMs;
            }
        }
        if (dir.SourceEof && !IsFinished)
        {
            hot |= TryPropagateEof(d);
        }
        return hot;
    }

    /// <summary>The longest a parked direction that makes no progress waits between two looks (its events still wake it).</summary>
    private const int MaxPollMs = 64;

    /// <summary>
    /// The half-close barrier (docs/design.md, "Sockmap: half-close barrier"): after recv(source) == 0, shut the
    /// destination down for writing only once every redirected byte has reached its send queue. Returns true while
    /// still waiting.
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
