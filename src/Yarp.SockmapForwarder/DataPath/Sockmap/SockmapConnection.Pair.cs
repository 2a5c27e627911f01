using System.Buffers;
using BpfSteer.Interop;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath.Sockmap;

/// <summary>The outcome of <see cref="SockmapConnection.PairAsync"/> and of its steps.</summary>
internal enum PairOutcome
{
    /// <summary>Both sockets are in the maps; call <see cref="SockmapEngine.Start"/>.</summary>
    Paired,

    /// <summary>The sockets are plain and intact (nothing partially read): continue on the user-space path.</summary>
    FallBack,

    /// <summary>A side failed during set-up; the connection is finished (see <see cref="SockmapConnection.Completion"/>).</summary>
    Failed,

    /// <summary>
    /// Inside <see cref="SockmapConnection.PairAsync"/> only: the client socket already redirects but the backend's
    /// insertion failed; unpairing takes the client back out and gives <see cref="FallBack"/> or <see cref="Failed"/>.
    /// </summary>
    BackendInsertFailed,
}

internal sealed partial class SockmapConnection
{
    private const int SetupTimeoutMs = 5000;

    /// <summary>
    /// Pairs the connection: <see cref="WriteEarlyDataAsync"/>, then <see cref="Insert"/> wholly on one thread between
    /// <paramref name="pinForInsert"/> and the disposal of what it returns (flow steering pins the calling thread: no await
    /// may fall between), then <see cref="UnpairAsync"/> when only the client got in. Never returns
    /// <see cref="PairOutcome.BackendInsertFailed"/>. A step that throws finishes the connection and frees its slot
    /// before the exception leaves, so no slot or socket outlives it.
    /// </summary>
    /// <param name="pinForInsert">Called right before the insertion, on the thread that runs it; null for no pin.</param>
    /// <param name="abort">Cancelled when the server stops: a step that waits ends the connection as Aborted.</param>
    public async ValueTask<(PairOutcome Outcome, string Detail)> PairAsync(Func<IDisposable?> pinForInsert, CancellationToken abort)
    {
        try
        {
            if (await WriteEarlyDataAsync(abort).ConfigureAwait(false) is { } failure)
            {
                return (PairOutcome.Failed, failure);
            }
            PairOutcome outcome;
            string detail;
            using (pinForInsert())
            {
                outcome = Insert(out detail);
            }
            return outcome == PairOutcome.BackendInsertFailed
                ? await UnpairAsync(detail, abort).ConfigureAwait(false)
                : (outcome, detail);
        }
        catch (Exception)
        {
            Finish(CloseReason.SetupFailed, resetBoth: true);
            _engine.Release(Index);
            throw;
        }
    }

    /// <summary>Bytes user space moved before pairing, per direction (for a fallback's result).</summary>
    public (long ClientToBackend, long BackendToClient) EarlyBytes => (_dirs[0].Early, _dirs[1].Early);

    /// <summary>
    /// The first step of pairing (docs/design.md: "Sockmap: early data before insertion", "Sockmap: reading before
    /// insertion"): the preamble and the buffered client bytes are written to the backend before either socket enters a
    /// map (send() returning means they are in its send queue, ahead of anything the verdict will redirect). Nothing is
    /// read: before insertion a socket is read not at all or completely, because the verdict gets whole skbs, so the
    /// part already read of a partly read one would be forwarded again (unless the verdict cuts it); and draining chases
    /// a client that keeps sending (measured: 126 of 200 concurrent uploads reached end of stream while still being
    /// drained, which forces the user-space path). Completes at once unless the backend's send buffer is full; then it
    /// waits for room without blocking the caller, for at most 5 s of set-up, or until <paramref name="abort"/> (the
    /// server stops), which finishes the connection as <see cref="CloseReason.Aborted"/>.
    /// </summary>
    /// <returns>Null once every byte is written (go on to <see cref="Insert"/>); else why set-up failed, and the
    /// connection is finished (see <see cref="Completion"/>).</returns>
    private async ValueTask<string?> WriteEarlyDataAsync(CancellationToken abort)
    {
        var deadline = Environment.TickCount64 + SetupTimeoutMs;
        int err;
        try
        {
            err = await SocketIo.WriteAllAsync(_sockets[1], _request.BackendPreamble, deadline, abort).ConfigureAwait(false);
            if (err == 0)
            {
                err = await SocketIo.WriteAllAsync(_sockets[1], _request.ClientBufferedData, deadline, abort).ConfigureAwait(false);
                _dirs[0].Early += _request.ClientBufferedData.Length;
            }
        }
        catch (OperationCanceledException)
        {
            Finish(CloseReason.Aborted, resetBoth: true);
            return "aborted (the server is stopping) while the backend's send buffer was full";
        }
        if (err != 0)
        {
            Finish(SocketIo.IsReset(err) || err == Errno.EPIPE ? CloseReason.ResetDuringSetup : CloseReason.SetupFailed, resetBoth: true);
            return $"set-up failed: {PosixResult.FromErrno(err)}";
        }
        return null;
    }

    /// <summary>
    /// The two-map insertion, after <see cref="WriteEarlyDataAsync"/> (docs/design.md: "Sockmap: insertion order",
    /// "Sockmap: only established sockets enter"): both sockets enter the program-less redirect map, then the program
    /// map, and one recv(MSG_DONTWAIT) on each runs the verdict over whatever queued up before, which the kernel would
    /// otherwise leave queued until the sender sends again. Synchronous, so it runs wholly on the calling thread (the
    /// thread that flow steering pinned).
    /// </summary>
    private unsafe PairOutcome Insert(out string detail)
    {
        var request = _request;
        var cpu = request.Cpu is int c ? (uint)c : ConnState.NoCpu;
        var highMark = request.Route.MaxQueuedBytes > 0 ? (ulong)request.Route.MaxQueuedBytes : 0;
        for (var side = 0; side < 2; side++)
        {
            _cookies[side] = NativeSocket.GetCookie(_sockets[side].SafeHandle);
            // A verdict that was still running when the slot's last connection finished may have added to its share.
            _engine.Account(Slot(side), 0);
            *Slot(side) = new ConnSlot { HighMark = highMark };
        }
        _dirs[0].Base = SocketIo.QueuedTotal(_sockets[1]);
        _dirs[1].Base = SocketIo.QueuedTotal(_sockets[0]);
        Slot(0)->PeerBase = (ulong)_dirs[0].Base;
        Slot(1)->PeerBase = (ulong)_dirs[1].Base;
        for (var side = 0; side < 2; side++)
        {
            var state = new ConnState
            {
                PeerCookie = _cookies[1 - side], Slot = (uint)(Index * 2 + side), Route = (uint)request.RouteIndex,
                Direction = (uint)side, Cpu = cpu,
            };
            var r = _engine.Conns.TryUpdate(_cookies[side], state);
            if (!r.IsSuccess)
            {
                DeleteEntries();
                detail = $"conns map update failed: {r} (map full?)";
                return PairOutcome.FallBack;
            }
        }
        // Both into the program-less target map first, then the program map, so no verdict runs before its redirect
        // target is in a map (docs/design.md, "Sockmap: insertion order").
        for (var side = 0; side < 2; side++)
        {
            var r = _engine.RedirectMap.TryInsertSocket(_cookies[side], _sockets[side].SafeHandle);
            if (!r.IsSuccess)
            {
                DeleteEntries();
                detail = $"redirect map insert failed: {r}" + (r.Errno == Errno.EOPNOTSUPP ? " (socket no longer ESTABLISHED)" : "");
                return PairOutcome.FallBack;
            }
        }
        var first = _engine.ProgramMap.TryInsertSocket(_cookies[0], _sockets[0].SafeHandle);
        if (!first.IsSuccess)
        {
            DeleteEntries();
            detail = $"program map insert failed: {first}" + (first.Errno == Errno.EOPNOTSUPP ? " (socket no longer ESTABLISHED)" : "");
            return PairOutcome.FallBack;
        }
        _inMaps = true;
        var second = _engine.ProgramMap.TryInsertSocket(_cookies[1], _sockets[1].SafeHandle);
        if (!second.IsSuccess)
        {
            detail = $"backend program map insert failed: {second}";
            return PairOutcome.BackendInsertFailed;
        }
        Trigger(0);
        Trigger(1);
        detail = "paired";
        return PairOutcome.Paired;
    }

    /// <summary>
    /// One recv(MSG_DONTWAIT) runs the verdict over bytes queued before insertion, which would otherwise wait for the
    /// sender's next bytes (docs/design.md, "Sockmap: early data before insertion").
    /// </summary>
    private void Trigger(int side)
    {
        var dir = _dirs[side];
        dir.Pending = ArrayPool<byte>.Shared.Rent(SocketIo.ChunkSize);
        var r = NativeSocket.TryReceive(_sockets[side].SafeHandle, dir.Pending.AsSpan(0, SocketIo.ChunkSize), MSG_DONTWAIT);
        if (r.IsSuccess && r.Value > 0)
        {
            // Not expected (the verdict consumes the queue); kept in order behind the barrier like parked bytes.
            dir.PendingCount = (int)r.Value;
        }
        else if (r.IsSuccess)
        {
            dir.SourceEof = true;
        }
        else if (r.Errno != Errno.EAGAIN && r.Errno != Errno.EPIPE)
        {
            dir.RdHup = true; // the epoll thread reads it again and sees the reset
        }
    }

    /// <summary>
    /// After <see cref="PairOutcome.BackendInsertFailed"/>: the client socket already redirects (its program insert
    /// worked) but the backend's failed. Stops the client's verdict, waits (on a timer, not blocking the caller) until
    /// the backend has taken every redirected byte, takes back any parked byte, then leaves the maps. Stopping the server
    /// meanwhile (<paramref name="abort"/>) finishes the connection as <see cref="CloseReason.Aborted"/>.
    /// </summary>
    /// <param name="failure">What <see cref="Insert"/> said of the failed insertion; the returned detail starts with it.</param>
    /// <param name="abort">Cancelled when the server stops.</param>
    private async ValueTask<(PairOutcome Outcome, string Detail)> UnpairAsync(string failure, CancellationToken abort)
    {
        _engine.ProgramMap.TryDelete(_cookies[0]);
        var deadline = Environment.TickCount64 + 2000;
        var err = Errno.ETIMEDOUT;
        long moved = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(SocketIo.ChunkSize);
        try
        {
            while (!MeasureBarrier(0) && Environment.TickCount64 < deadline)
            {
                await Task.Delay(1, abort).ConfigureAwait(false);
            }
            if (MeasureBarrier(0))
            {
                (err, moved) = await SocketIo.DrainAsync(_sockets[0], _sockets[1], buffer, deadline + 3000, abort).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            Finish(CloseReason.Aborted, resetBoth: true);
            return (PairOutcome.Failed, $"{failure}; aborted (the server is stopping) while unpairing");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        DeleteEntries();
        _inMaps = false;
        _dirs[0].Early += moved;
        if (err != 0)
        {
            Finish(CloseReason.SetupFailed, resetBoth: true); // it counts the redirected bytes from the slot itself
            return (PairOutcome.Failed, $"{failure}; unpairing failed: {PosixResult.FromErrno(err)}");
        }
        // The user-space path continues from here: the bytes the verdict redirected before it stopped are early bytes too.
        _dirs[0].Early += RedirectedSoFar(0);
        return (PairOutcome.FallBack, failure);
    }

    private unsafe long RedirectedSoFar(int side) => (long)Volatile.Read(ref Slot(side)->Redirected);

    private void DeleteEntries()
    {
        for (var side = 0; side < 2; side++)
        {
            _engine.ProgramMap.TryDelete(_cookies[side]);
            _engine.RedirectMap.TryDelete(_cookies[side]);
            _engine.Conns.TryDelete(_cookies[side]);
        }
    }
}
