using System.Buffers;
using BpfSteer.Interop;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath.UserSpace;

/// <summary>
/// One connection's user-space path on the event loop that accepted it: the two non-blocking sockets are already
/// registered there (edge-triggered, IN|OUT|RDHUP), and the owner passes every event on. Bytes are copied through the
/// loop's scratch buffer (recv, then send); only a direction that turns out to be bulk (a read fills the buffer) gets a
/// pipe and moves by splice(2) from then on, so a short connection never creates pipes.
/// Sides: 0 = client, 1 = backend; direction d moves side d to side 1-d.
/// </summary>
/// <remarks>
/// The point where a connection could leave user space (the "upgrade to sockmap" of a bulk connection) is
/// <see cref="IsQuiescent"/>: nothing is held in user space or in a pipe, so the two sockets can be handed over whole.
/// Semantics match <see cref="SpliceConnection"/>: half-close per direction, a reset (or a failed write) resets both
/// sides, idle timeout from the last byte moved.
/// </remarks>
internal sealed class LoopRelay
{
    /// <summary>The size of the loop's scratch buffer; a read that fills it marks the direction bulk.</summary>
    public const int ScratchSize = 64 * 1024;

    private const int PipeSize = 256 * 1024;

    private readonly SafeFileDescriptorHandle[] _sides;
    private readonly Direction[] _dirs = [new(), new()];
    private readonly Action<long, long>? _onBytes;

    /// <param name="client">The accepted client socket (owned from now: closed when the relay finishes).</param>
    /// <param name="backend">The connected backend socket (owned from now).</param>
    /// <param name="prefix">Bytes for the backend before any client byte (the PROXY header), or empty; not counted as moved.</param>
    /// <param name="onBytes">Called with bytes moved (client→backend, backend→client), for the route's live counters.</param>
    public LoopRelay(SafeFileDescriptorHandle client, SafeFileDescriptorHandle backend, ReadOnlySpan<byte> prefix, Action<long, long>? onBytes)
    {
        _sides = [client, backend];
        _onBytes = onBytes;
        if (!prefix.IsEmpty)
        {
            var dir = _dirs[0];
            dir.Pending = ArrayPool<byte>.Shared.Rent(Math.Max(prefix.Length, ScratchSize));
            prefix.CopyTo(dir.Pending);
            dir.PendingCount = prefix.Length;
            dir.PendingIsPrefix = true;
        }
        LastActivity = Environment.TickCount64;
    }

    public bool IsFinished { get; private set; }

    /// <summary>Why the relay ended (valid once <see cref="IsFinished"/>).</summary>
    public CloseReason Reason { get; private set; }

    /// <summary><see cref="Environment.TickCount64"/> of the last byte moved (for the idle timeout).</summary>
    public long LastActivity { get; private set; }

    public long BytesClientToBackend => _dirs[0].Moved;

    public long BytesBackendToClient => _dirs[1].Moved;

    /// <summary>True when no byte is held in user space or a pipe in either direction: the sockets could change hands.</summary>
    public bool IsQuiescent => _dirs[0].Held == 0 && _dirs[1].Held == 0;

    /// <summary>
    /// True while neither side has hung up or ended its stream and neither destination was shut: both sockets are still
    /// ESTABLISHED as far as the relay has seen (only such sockets can enter the sockmap).
    /// </summary>
    public bool IsOpenBothWays => _dirs[0].IsOpen && _dirs[1].IsOpen;

    /// <summary>True once a read filled the scratch buffer in either direction (that direction moves by splice since).</summary>
    public bool IsBulk => _dirs[0].PipeWrite is not null || _dirs[1].PipeWrite is not null;

    /// <summary>
    /// Closes the bulk directions' pipes (they are empty when <see cref="IsQuiescent"/>): before the sockets leave this
    /// relay. If they come back (the hand-off fell back), a later full read creates new ones.
    /// </summary>
    public void ReleasePipes()
    {
        foreach (var dir in _dirs)
        {
            if (dir.InPipe == 0)
            {
                dir.PipeRead?.Dispose();
                dir.PipeWrite?.Dispose();
                dir.PipeRead = dir.PipeWrite = null;
            }
        }
    }

    /// <summary>The relay's sockets left it for another path: they are not closed here.</summary>
    public void HandOver(CloseReason reason)
    {
        IsFinished = true;
        Reason = reason;
    }

    private sealed class Direction
    {
        public byte[]? Pending;           // bytes read from the source that the destination did not take yet
        public int PendingOffset;
        public int PendingCount;
        public bool PendingIsPrefix;      // the PROXY header: written first, not counted as forwarded bytes
        public SafeFileDescriptorHandle? PipeRead;   // set once the direction is bulk
        public SafeFileDescriptorHandle? PipeWrite;
        public int InPipe;
        public bool Readable;             // the source may have bytes (an input edge came, and no read found it empty since)
        public bool SourceHup;            // RDHUP/HUP/ERR seen: read until end of stream, never stop at a short read
        public bool SourceEof;
        public bool DestinationShut;
        public long Moved;

        public int Held => PendingCount + InPipe;

        public bool IsOpen => !SourceHup && !SourceEof && !DestinationShut;
    }

    /// <summary>
    /// The first move after the backend connected. <paramref name="clientEvents"/> and <paramref name="backendEvents"/>
    /// are the epoll events each side reported so far (OR-ed): a side with no input edge yet is not read.
    /// </summary>
    public void Start(byte[] scratch, uint clientEvents, uint backendEvents)
    {
        Note(_dirs[0], clientEvents);
        Note(_dirs[1], backendEvents);
        PumpDirection(0, scratch);
        PumpDirection(1, scratch);
        CompleteIfDone();
    }

    private static void Note(Direction source, uint events)
    {
        source.Readable = (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
        source.SourceHup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    }

    /// <summary>An epoll event on <paramref name="side"/> (loop thread).</summary>
    public void OnEvents(int side, uint events, byte[] scratch)
    {
        if (IsFinished)
        {
            return;
        }
        if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
        {
            var source = _dirs[side];
            source.Readable = true;
            source.SourceHup |= (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
            PumpDirection(side, scratch);
        }
        // Writable: the direction into this side continues if it was waiting for room.
        var into = _dirs[1 - side];
        if (!IsFinished && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0 && (into.Held > 0 || into.Readable))
        {
            PumpDirection(1 - side, scratch);
        }
        CompleteIfDone();
    }

    /// <summary>Closes both sides when no byte moved for <paramref name="idleTimeoutMs"/>; true when it did.</summary>
    public bool CheckIdle(long now, long idleTimeoutMs)
    {
        if (IsFinished || idleTimeoutMs <= 0 || now - LastActivity <= idleTimeoutMs)
        {
            return false;
        }
        Finish(CloseReason.IdleTimeout, reset: false);
        return true;
    }

    /// <summary>Ends the relay now (server stop, route closed): both sides are reset.</summary>
    public void Abort() => Finish(CloseReason.Aborted, reset: true);

    private void PumpDirection(int d, byte[] scratch)
    {
        var dir = _dirs[d];
        if (IsFinished || dir.DestinationShut)
        {
            return;
        }
        var source = _sides[d];
        var destination = _sides[1 - d];
        long moved = 0;
        if (Flush(d, dir, destination, ref moved))
        {
            if (dir.PipeWrite is null)
            {
                Copy(d, dir, source, destination, scratch, ref moved);
            }
            else
            {
                Splice(d, dir, source, destination, ref moved);
            }
        }
        if (moved > 0)
        {
            dir.Moved += moved;
            LastActivity = Environment.TickCount64;
            _onBytes?.Invoke(d == 0 ? moved : 0, d == 1 ? moved : 0);
        }
        if (!IsFinished && dir.SourceEof && dir.Held == 0 && !dir.DestinationShut)
        {
            dir.DestinationShut = true;
            if (!_dirs[1 - d].DestinationShut)
            {
                // Half-close: the other direction keeps flowing. (When it is already done, closing both sends the FIN.)
                NativeSocket.TryShutdown(destination, SHUT_WR);
            }
        }
    }

    /// <summary>Writes held bytes; true when none are left (the direction may read again).</summary>
    private bool Flush(int d, Direction dir, SafeFileDescriptorHandle destination, ref long moved)
    {
        while (dir.PendingCount > 0)
        {
            var w = NativeSocket.TrySend(destination, dir.Pending.AsSpan(dir.PendingOffset, dir.PendingCount), MSG_DONTWAIT);
            if (!w.IsSuccess)
            {
                if (w.Errno != Errno.EAGAIN)
                {
                    Reset(1 - d);
                }
                return false;
            }
            if (!dir.PendingIsPrefix)
            {
                moved += w.Value;
            }
            dir.PendingOffset += (int)w.Value;
            dir.PendingCount -= (int)w.Value;
        }
        if (dir.Pending is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            dir.Pending = null;
            dir.PendingOffset = 0;
            dir.PendingIsPrefix = false;
        }
        return true;
    }

    private void Copy(int d, Direction dir, SafeFileDescriptorHandle source, SafeFileDescriptorHandle destination, byte[] scratch, ref long moved)
    {
        while (dir.Readable && !dir.SourceEof)
        {
            var r = NativeSocket.TryReceive(source, scratch);
            if (!r.IsSuccess)
            {
                if (r.Errno == Errno.EAGAIN)
                {
                    dir.Readable = false;
                }
                else
                {
                    Reset(d);
                }
                return;
            }
            var n = (int)r.Value;
            if (n == 0)
            {
                dir.SourceEof = true;
                return;
            }
            var w = NativeSocket.TrySend(destination, scratch.AsSpan(0, n), MSG_DONTWAIT);
            if (!w.IsSuccess && w.Errno != Errno.EAGAIN)
            {
                Reset(1 - d);
                return;
            }
            var written = w.IsSuccess ? (int)w.Value : 0;
            moved += written;
            if (written < n)
            {
                // The destination is full: hold the rest and stop reading until it takes it (EPOLLOUT).
                dir.Pending = ArrayPool<byte>.Shared.Rent(ScratchSize);
                scratch.AsSpan(written, n - written).CopyTo(dir.Pending);
                dir.PendingCount = n - written;
                return;
            }
            if (n == scratch.Length)
            {
                // A full buffer: this direction is bulk. From now on splice moves it without copies.
                BecomeBulk(dir);
                Splice(d, dir, source, destination, ref moved);
                return;
            }
            if (!dir.SourceHup)
            {
                // A short read emptied the receive queue; edge-triggered epoll reports the next arrival. (Not after RDHUP:
                // the FIN's edge has been reported already, so read on until end of stream.)
                dir.Readable = false;
                return;
            }
        }
    }

    private static void BecomeBulk(Direction dir)
    {
        var (read, write) = NativeSocket.CreatePipe();
        Fcntl(write, F_SETPIPE_SZ, PipeSize); // best effort: a bigger pipe means fewer syscalls
        dir.PipeRead = read;
        dir.PipeWrite = write;
    }

    private void Splice(int d, Direction dir, SafeFileDescriptorHandle source, SafeFileDescriptorHandle destination, ref long moved)
    {
        while (!IsFinished)
        {
            var progress = false;
            if (dir.Readable && !dir.SourceEof && dir.InPipe < PipeSize)
            {
                var r = NativeSplice.TrySplice(source, dir.PipeWrite!, PipeSize - dir.InPipe);
                if (r.IsSuccess && r.Value > 0)
                {
                    dir.InPipe += (int)r.Value;
                    progress = true;
                }
                else if (r.IsSuccess)
                {
                    dir.SourceEof = true;
                    progress = true;
                }
                else if (r.Errno == Errno.EAGAIN)
                {
                    dir.Readable = false;
                }
                else
                {
                    Reset(d);
                    return;
                }
            }
            if (dir.InPipe > 0)
            {
                var w = NativeSplice.TrySplice(dir.PipeRead!, destination, dir.InPipe);
                if (w.IsSuccess && w.Value > 0)
                {
                    dir.InPipe -= (int)w.Value;
                    moved += w.Value;
                    progress = true;
                }
                else if (!w.IsSuccess && w.Errno != Errno.EAGAIN)
                {
                    Reset(1 - d);
                    return;
                }
            }
            if (!progress)
            {
                return;
            }
        }
    }

    private void CompleteIfDone()
    {
        if (!IsFinished && _dirs[0].DestinationShut && _dirs[1].DestinationShut)
        {
            Finish(CloseReason.Completed, reset: false);
        }
    }

    /// <summary>Side <paramref name="side"/> failed (RST, or a write after the peer vanished): reset both.</summary>
    private void Reset(int side) => Finish(side == 0 ? CloseReason.ClientReset : CloseReason.BackendReset, reset: true);

    private void Finish(CloseReason reason, bool reset)
    {
        if (IsFinished)
        {
            return;
        }
        IsFinished = true;
        Reason = reason;
        foreach (var socket in _sides)
        {
            if (reset)
            {
                NativeConnect.TrySetResetOnClose(socket);
            }
            socket.Dispose();
        }
        foreach (var dir in _dirs)
        {
            dir.PipeRead?.Dispose();
            dir.PipeWrite?.Dispose();
            if (dir.Pending is { } buffer)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                dir.Pending = null;
            }
        }
    }
}
