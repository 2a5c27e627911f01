using System.Buffers;
using BpfSteer.Interop;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath.Sockmap;

internal sealed unsafe partial class SockmapConnection
{
    /// <summary>
    /// Reads what the kernel left on the source socket: parked bytes (the verdict returned SK_PASS), end of
    /// stream, or a reset. Parked bytes are written to the destination only behind the barrier: every redirected
    /// byte must already be in the destination's send queue, or they would overtake it.
    /// </summary>
    private void ReadSource(int d)
    {
        ReadSourceChunks(d);
        var dir = _dirs[d];
        if (dir.PendingCount == 0 && dir.Pending is { } idle)
        {
            // Most connections never park: no buffer is held while nothing is pending.
            ArrayPool<byte>.Shared.Return(idle);
            dir.Pending = null;
        }
    }

    /// <summary>
    /// Parked bytes are read in chunks of this size: each chunk costs a recv and a send on the one engine thread, which
    /// copies every parked byte twice, so fewer, larger calls are what keeps a parked bulk stream fast.
    /// </summary>
    private const int ParkedChunkSize = 256 * 1024;

    private void ReadSourceChunks(int d)
    {
        var dir = _dirs[d];
        if (dir.PendingCount > 0 && !FlushPending(d))
        {
            return;
        }
        if (Volatile.Read(ref Slot(d)->Passed) == Volatile.Read(ref Slot(d)->Consumed))
        {
            dir.ParkedSince = 0;
            dir.Starving = false;
        }
        else
        {
            var now = Environment.TickCount64;
            if (dir.ParkedSince == 0)
            {
                dir.ParkedSince = now;
                OnParked(d);
            }
            if ((dir.Starving || (now - dir.ParkedSince >= ResumeAfterMs && now >= dir.NextResumeAttempt)) && TryResume(d, now))
            {
                return;
            }
        }
        for (var round = 0; round < 64 && !dir.SourceEof && !IsFinished; round++)
        {
            if (dir.PendingCount > 0 && !FlushPending(d))
            {
                return;
            }
            dir.Pending ??= ArrayPool<byte>.Shared.Rent(ParkedChunkSize);
            var r = NativeSocket.TryReceive(_sockets[d].SafeHandle, dir.Pending.AsSpan(0, Math.Min(dir.Pending.Length, ParkedChunkSize)), MSG_DONTWAIT);
            if (!HandleReceive(d, r))
            {
                return;
            }
            dir.PendingOffset = 0;
            dir.PendingCount = (int)r.Value;
            _lastActivity = Environment.TickCount64;
        }
    }

    /// <summary>How long a direction stays parked before <see cref="TryResume"/> tries to end the park (and between tries).</summary>
    private const int ResumeAfterMs = 20;

    /// <summary>The most parked bytes a resume peeks at once (a park that outgrew it is read the usual way).</summary>
    private const int MaxPeek = 32 << 20;

    /// <summary>How long a resume waits for the source's queue to stop growing before it peeks what is there.</summary>
    private const int MaxStarveMs = 20;

    /// <summary>
    /// Ends a park that outlived <see cref="ResumeAfterMs"/>. Reading parked bytes the usual way reopens the source's
    /// window at once, so under continuous load the sender's next bytes are parked before the read ones are written, and
    /// the verdict (which resumes only when consumed == passed) never resumes. Here the source is left unread until its
    /// queue stops growing (the sender is stopped by the closed window, or idle), then the whole queue is peeked,
    /// written, counted as consumed and only then taken off: the window reopens after consumed == passed, so the next
    /// skb is redirected. Order is kept: the parked bytes are in the destination's send queue before any later byte is
    /// redirected. True while this owns the direction (the caller must not read).
    /// </summary>
    private bool TryResume(int d, long now)
    {
        var dir = _dirs[d];
        if (!dir.Starving)
        {
            if (!MeasureBarrier(d))
            {
                return false;
            }
            dir.Starving = true;
            dir.StarveSince = now;
            dir.StarvePen = -1;
            return true;
        }
        var inq = NativeSocket.TryQueueSize(_sockets[d].SafeHandle, SIOCINQ);
        if (!inq.IsSuccess || inq.Value > MaxPeek)
        {
            dir.Starving = false;
            dir.NextResumeAttempt = now + ResumeAfterMs;
            return false;
        }
        if (inq.Value != dir.StarvePen && now - dir.StarveSince < MaxStarveMs)
        {
            dir.StarvePen = inq.Value;
            return true; // still growing: the sender has window left
        }
        dir.Starving = false;
        dir.NextResumeAttempt = now + ResumeAfterMs;
        if (inq.Value == 0 || !MeasureBarrier(d))
        {
            return false;
        }
        var pen = ArrayPool<byte>.Shared.Rent((int)inq.Value);
        try
        {
            var r = NativeSocket.TryReceive(_sockets[d].SafeHandle, pen.AsSpan(0, (int)inq.Value), MSG_DONTWAIT | MSG_PEEK);
            if (!r.IsSuccess || r.Value == 0)
            {
                return false;
            }
            var peeked = (int)r.Value;
            var written = 0;
            while (written < peeked)
            {
                var w = NativeSocket.TrySend(_sockets[1 - d].SafeHandle, pen.AsSpan(written, peeked - written), MSG_DONTWAIT);
                if (!w.IsSuccess)
                {
                    if (w.Errno != Errno.EAGAIN)
                    {
                        ResetFrom(1 - d);
                        return true;
                    }
                    break;
                }
                written += (int)w.Value;
            }
            if (written == 0)
            {
                return false;
            }
            dir.UserWritten += written;
            Interlocked.Add(ref Slot(d)->Consumed, (ulong)written);
            if (Volatile.Read(ref Slot(d)->Consumed) == Volatile.Read(ref Slot(d)->Passed))
            {
                dir.Resumes++;
                dir.ParkedSince = 0;
            }
            var taken = NativeSocket.TryReceive(_sockets[d].SafeHandle, pen.AsSpan(0, written), MSG_DONTWAIT);
            if (!taken.IsSuccess || taken.Value != written)
            {
                // The peeked bytes did not come off as they were peeked: the stream can no longer be kept exact.
                Finish(CloseReason.Error, resetBoth: true);
            }
            _lastActivity = now;
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pen);
        }
    }

    /// <summary>Handles a receive that returned no bytes or failed; false when the caller must stop reading.</summary>
    private bool HandleReceive(int d, PosixResult r)
    {
        var dir = _dirs[d];
        if (!r.IsSuccess)
        {
            if (r.Errno == Errno.EAGAIN)
            {
                return false;
            }
            if (r.Errno == Errno.EPIPE)
            {
                // One-shot sk_err left by a FIN through the peer's backlog, not a reset: read again next time
                // (docs/design.md, "Sockmap: FIN and EPIPE").
                return false;
            }
            ResetFrom(d);
            return false;
        }
        if (r.Value == 0)
        {
            // recv took the socket lock: every byte of the source has been through the verdict (docs/design.md,
            // "Sockmap: half-close barrier").
            // But parked skbs can still wait in the psock queue behind bytes redirected *to* this socket: recv
            // reports end of stream before they reach it. It is the end only once every parked byte was read.
            if (Volatile.Read(ref Slot(d)->Passed) != Volatile.Read(ref Slot(d)->Consumed))
            {
                dir.RdHup = true;
                return false;
            }
            dir.SourceEof = true;
            _lastActivity = Environment.TickCount64;
            return false;
        }
        return true;
    }

    /// <summary>Writes pending source bytes to the destination behind the barrier; true when nothing is left.</summary>
    private bool FlushPending(int d)
    {
        var dir = _dirs[d];
        if (!MeasureBarrier(d))
        {
            return false;
        }
        while (dir.PendingCount > 0)
        {
            var r = NativeSocket.TrySend(_sockets[1 - d].SafeHandle, dir.Pending.AsSpan(dir.PendingOffset, dir.PendingCount), MSG_DONTWAIT);
            if (!r.IsSuccess)
            {
                if (r.Errno != Errno.EAGAIN)
                {
                    ResetFrom(1 - d);
                }
                return false;
            }
            dir.PendingOffset += (int)r.Value;
            dir.PendingCount -= (int)r.Value;
            dir.UserWritten += r.Value;
            // The verdict resumes redirecting when consumed == passed: publish only bytes already written.
            Interlocked.Add(ref Slot(d)->Consumed, (ulong)r.Value);
        }
        return true;
    }

    /// <summary>Bytes user space moved itself (early data, parked bytes), per direction.</summary>
    public (long ClientToBackend, long BackendToClient) UserBytes => (_dirs[0].Early + _dirs[0].UserWritten, _dirs[1].Early + _dirs[1].UserWritten);

    /// <summary>Times the verdict parked either direction (the queue bound was reached), read at finish.</summary>
    public long Parks { get; private set; }

    /// <summary>Side <paramref name="side"/> was reset: reset the other side too (RST propagated as RST).</summary>
    private void ResetFrom(int side)
        => Finish(side == 0 ? CloseReason.ClientReset : CloseReason.BackendReset, resetBoth: true);

    /// <summary>
    /// Both sockets leave the maps, their conns entries are deleted (close() does not delete them: docs/design.md,
    /// "Sockmap: leaving the maps"), both are closed.
    /// </summary>
    public void Finish(CloseReason reason, bool resetBoth)
    {
        if (IsFinished)
        {
            return;
        }
        IsFinished = true;
        LeaveMaps();
        var slot0 = Slot(0);
        var slot1 = Slot(1);
        Parks = (long)(Volatile.Read(ref slot0->Parks) + Volatile.Read(ref slot1->Parks));
        LargestBacklog = (long)Math.Max(slot0->BacklogPeak, slot1->BacklogPeak);
        ParkCounts = new TcpRouteParks(slot0->HighMarkParks + slot1->HighMarkParks, slot0->BudgetParks + slot1->BudgetParks,
            slot0->PeerFullParks + slot1->PeerFullParks, _dirs[0].Resumes + _dirs[1].Resumes);
        // Its backlog leaves the budget with it (closing frees the psock queue).
        _engine.Account(slot0, 0);
        _engine.Account(slot1, 0);
        var c2b = _dirs[0].Early + (long)Volatile.Read(ref slot0->Redirected) + _dirs[0].UserWritten;
        var b2c = _dirs[1].Early + (long)Volatile.Read(ref slot1->Redirected) + _dirs[1].UserWritten;
        for (var side = 0; side < 2; side++)
        {
            _engine.Unwatch(_sockets[side].SafeHandle, _tokens[side]);
            if (resetBoth)
            {
                SocketIo.Reset(_sockets[side]);
            }
            else
            {
                _sockets[side].Dispose();
            }
            if (_dirs[side].Pending is { } buffer)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                _dirs[side].Pending = null;
            }
        }
        if (_started)
        {
            // The index is free again before anyone sees the result (a caller may open the next connection at once).
            _engine.Release(Index);
        }
        _done.TrySetResult(new ForwardingResult(DataPathKind.Sockmap, c2b, b2c, reason));
    }

    private void LeaveMaps()
    {
        if (!_inMaps)
        {
            return;
        }
        _inMaps = false;
        for (var side = 0; side < 2; side++)
        {
            _engine.ProgramMap.TryDelete(_cookies[side]);
        }
        for (var side = 0; side < 2; side++)
        {
            _engine.RedirectMap.TryDelete(_cookies[side]);
            _engine.Conns.TryDelete(_cookies[side]);
        }
    }
}
