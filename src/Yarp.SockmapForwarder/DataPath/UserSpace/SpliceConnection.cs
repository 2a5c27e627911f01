using System.Net.Sockets;
using BpfSteer.Interop;
using BpfSteer.Internal;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath.UserSpace;

/// <summary>
/// One connection on the user-space path: per direction a pipe, splice(source → pipe) and splice(pipe →
/// destination). Back-pressure is natural: the pipe holds at most its capacity, so a stalled side stops the reads.
/// Sides: 0 = client, 1 = backend; direction d moves side d to side 1-d. Runs on its <see cref="SpliceLoop"/>.
/// </summary>
internal sealed class SpliceConnection : IEventLoopHandler
{
    private const int PipeSize = 256 * 1024;

    private readonly Socket[] _sockets;
    private readonly Direction[] _dirs;
    private readonly TimeSpan _idleTimeout;
    private readonly Action<long, long>? _onBytes;
    private readonly TaskCompletionSource<ForwardingResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ulong[] _tokens = new ulong[2];
    private SpliceLoop? _loop;
    private long _lastActivity;

    /// <param name="client">The client socket (owned from now).</param>
    /// <param name="backend">The backend socket (owned from now).</param>
    /// <param name="prefix">Bytes for the backend before any client byte (PROXY header, buffered client data).</param>
    /// <param name="early">Bytes already moved before this path took over (counted in the result).</param>
    /// <param name="idleTimeout">Close when no byte moved for this long; zero or infinite = never.</param>
    /// <param name="onBytes">Called with bytes moved (client→backend, backend→client), for route counters.</param>
    public SpliceConnection(Socket client, Socket backend, ReadOnlyMemory<byte> prefix, (long C2B, long B2C) early,
        TimeSpan idleTimeout, Action<long, long>? onBytes)
    {
        _sockets = [client, backend];
        _dirs = [new Direction { Prefix = prefix, Moved = early.C2B }, new Direction { Moved = early.B2C }];
        _idleTimeout = idleTimeout;
        _onBytes = onBytes;
        foreach (var dir in _dirs)
        {
            (dir.PipeRead, dir.PipeWrite) = NativeSocket.CreatePipe();
            Fcntl(dir.PipeWrite, F_SETPIPE_SZ, PipeSize); // best effort: a bigger pipe means fewer syscalls
        }
    }

    public bool IsFinished { get; private set; }

    public Task<ForwardingResult> Completion => _done.Task;

    private sealed class Direction
    {
        public SafeFileDescriptorHandle PipeRead = null!;
        public SafeFileDescriptorHandle PipeWrite = null!;
        public ReadOnlyMemory<byte> Prefix;
        public int InPipe;
        public long Moved;
        public bool SourceEof;
        public bool DestinationShut;
    }

    public void Attach(SpliceLoop loop)
    {
        _loop = loop;
        _lastActivity = Environment.TickCount64;
        _tokens[0] = loop.Watch(_sockets[0].SafeHandle, this);
        _tokens[1] = loop.Watch(_sockets[1].SafeHandle, this);
        Pump();
    }

    /// <summary>Either socket's readiness changed: both directions may move.</summary>
    public void OnEvents(uint events) => Pump();

    /// <summary>Moves what can move in both directions (edge-triggered: until EAGAIN or a full pipe).</summary>
    public void Pump()
    {
        for (var d = 0; d < 2 && !IsFinished; d++)
        {
            PumpDirection(d);
        }
        if (!IsFinished && _dirs[0].DestinationShut && _dirs[1].DestinationShut)
        {
            Finish(CloseReason.Completed, reset: false);
        }
    }

    public void Tick(long now)
    {
        if (!IsFinished && _idleTimeout > TimeSpan.Zero && _idleTimeout != Timeout.InfiniteTimeSpan && now - _lastActivity > (long)_idleTimeout.TotalMilliseconds)
        {
            Finish(CloseReason.IdleTimeout, reset: false);
        }
    }

    private void PumpDirection(int d)
    {
        var dir = _dirs[d];
        var source = _sockets[d].SafeHandle;
        var destination = _sockets[1 - d].SafeHandle;
        long moved = 0;
        while (!IsFinished)
        {
            var progress = false;
            while (!dir.Prefix.IsEmpty)
            {
                var w = NativeSocket.TrySend(destination, dir.Prefix.Span, MSG_DONTWAIT);
                if (!w.IsSuccess)
                {
                    if (w.Errno != Errno.EAGAIN)
                    {
                        Reset(1 - d);
                    }
                    goto done;
                }
                dir.Prefix = dir.Prefix[(int)w.Value..];
            }
            if (!dir.SourceEof && dir.InPipe < PipeSize)
            {
                var r = NativeSplice.TrySplice(source, dir.PipeWrite, PipeSize - dir.InPipe);
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
                else if (r.Errno != Errno.EAGAIN)
                {
                    Reset(d);
                    goto done;
                }
            }
            if (dir.InPipe > 0)
            {
                var w = NativeSplice.TrySplice(dir.PipeRead, destination, dir.InPipe);
                if (w.IsSuccess && w.Value > 0)
                {
                    dir.InPipe -= (int)w.Value;
                    moved += w.Value;
                    progress = true;
                }
                else if (!w.IsSuccess && w.Errno != Errno.EAGAIN)
                {
                    Reset(1 - d);
                    goto done;
                }
            }
            if (!progress)
            {
                break;
            }
        }
        if (!IsFinished && dir.SourceEof && dir.InPipe == 0 && dir.Prefix.IsEmpty && !dir.DestinationShut)
        {
            // Half-close: the other direction keeps flowing.
            NativeSocket.TryShutdown(destination, SHUT_WR);
            dir.DestinationShut = true;
        }
    done:
        if (moved > 0)
        {
            dir.Moved += moved;
            _lastActivity = Environment.TickCount64;
            _onBytes?.Invoke(d == 0 ? moved : 0, d == 1 ? moved : 0);
        }
    }

    /// <summary>Side <paramref name="side"/> failed (RST, or a write after the peer vanished): reset both.</summary>
    private void Reset(int side) => Finish(side == 0 ? CloseReason.ClientReset : CloseReason.BackendReset, reset: true);

    public void Finish(CloseReason reason, bool reset)
    {
        if (IsFinished)
        {
            return;
        }
        IsFinished = true;
        for (var side = 0; side < 2; side++)
        {
            var socket = _sockets[side];
            _loop?.Unwatch(socket.SafeHandle, _tokens[side]);
            if (reset)
            {
                SocketIo.Reset(socket);
            }
            else
            {
                socket.Dispose();
            }
        }
        foreach (var dir in _dirs)
        {
            dir.PipeRead.Dispose();
            dir.PipeWrite.Dispose();
        }
        _done.TrySetResult(new ForwardingResult(DataPathKind.UserSpace, _dirs[0].Moved, _dirs[1].Moved, reason));
    }
}
