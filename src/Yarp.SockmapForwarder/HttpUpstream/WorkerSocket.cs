using System.Net;
using System.Net.Sockets;
using BpfSteer;
using BpfSteer.Interop;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.HttpUpstream;

/// <summary>
/// One upstream TCP connection owned by one worker: a non-blocking socket in that worker's epoll set, so every socket
/// call (connect, recv, send, close) runs on the worker's thread and CPU. Operations asked for on another thread are
/// queued to the worker; completions raised by epoll resume the caller on the worker when the transport runs
/// application code inline, else on the thread pool. Split by concern: Connect, Read, Write.
/// </summary>
/// <remarks>
/// Readiness is tracked as the transport's connections do (edge-triggered epoll): a flag per direction, set by an
/// event and cleared by EAGAIN or a short read, so a read that finds the flag clear goes pending without a syscall.
/// </remarks>
internal sealed partial class WorkerSocket : IWorkerLoopHandler
{
    private const uint HangupEvents = EPOLLRDHUP | EPOLLHUP | EPOLLERR;

    private readonly IWorkerLoop _loop;
    private readonly SafeFileDescriptorHandle _fd;
    private readonly bool _asyncContinuations;
    private ulong _token;
    private bool _registered;
    private bool _closed;
    private int _disposeRequested;
    private bool _readReady;
    private bool _writeReady;
    private bool _peerClosed;
    private Exception? _stopReason;

    private WorkerSocket(IWorkerLoop loop, SafeFileDescriptorHandle fd, IPEndPoint remote)
    {
        _loop = loop;
        _fd = fd;
        RemoteEndPoint = remote;
        _asyncContinuations = !loop.RunsApplicationInline;
        _read = new ReadOperation(this);
        _write = new WriteOperation(this);
    }

    public IWorkerLoop Loop => _loop;

    public IPEndPoint RemoteEndPoint { get; }

    void IWorkerLoopHandler.OnEvents(uint events)
    {
        if (_closed)
        {
            return;
        }
        if ((events & HangupEvents) != 0)
        {
            // Sticky: the FIN/RST may share the edge with the last data, and no further edge will announce it.
            _peerClosed = true;
        }
        if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0)
        {
            _writeReady = true;
            if (_connect is not null)
            {
                CompleteConnect();
            }
            else if (_write.IsPending)
            {
                _write.Continue();
            }
        }
        // A completion above may have run the caller's continuation inline, which may have closed the socket.
        if (!_closed && (events & (EPOLLIN | HangupEvents)) != 0)
        {
            _readReady = true;
            if (_read.IsPending)
            {
                _read.Continue();
            }
        }
    }

    void IWorkerLoopHandler.OnLoopStopped(Exception? error)
    {
        // The epoll set is gone with the loop: nothing to unregister, but pending calls must end and the fd close.
        _registered = false;
        _stopReason = error ?? new ObjectDisposedException(nameof(IWorkerLoop), "The BpfSteer worker that owned this upstream connection stopped.");
        CloseOnWorker();
    }

    /// <summary>Closes the connection; safe from any thread, idempotent. Pending reads and writes fail.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposeRequested, 1) != 0)
        {
            return;
        }
        if (_loop.IsCurrentThread)
        {
            CloseOnWorker();
        }
        else
        {
            _loop.Schedule(static s => ((WorkerSocket)s!).CloseOnWorker(), this);
        }
    }

    private void CloseOnWorker()
    {
        if (_closed)
        {
            return;
        }
        _closed = true;
        if (_registered)
        {
            _registered = false;
            _loop.Unregister(_fd, _token);
        }
        _fd.Dispose();
        _loop.UpstreamCounters.OnConnectionClosed();
        _connect?.TrySetException(Closing(read: false));
        _connect = null;
        _read.Fail(Closing(read: true));
        _write.Fail(Closing(read: false));
    }

    /// <summary>Counts one socket call for the locality ratio, against the worker of the request that asked for it.</summary>
    private void Count(IWorkerLoop? downstream)
    {
        if (downstream is null)
        {
            return; // no downstream request (a health probe, a pool's idle check): not part of the ratio
        }
        // The owning worker's thread is pinned to its CPU, so there the answer needs no sched_getcpu call.
        var onWorkerCpu = (ReferenceEquals(downstream, _loop) && _loop.IsCurrentThread) || CpuAffinity.CurrentCpu() == downstream.Cpu;
        downstream.UpstreamCounters.CountOperation(onWorkerCpu);
    }

    /// <summary>What a call on a closed connection gets: NetworkStream's wording, the stop reason if the worker stopped.</summary>
    private IOException Closing(bool read)
    {
        if (_stopReason is { } stop)
        {
            return new IOException("The BpfSteer worker that owned this upstream connection stopped.", stop);
        }
        var error = new SocketException((int)SocketError.OperationAborted);
        var what = read ? "read data from" : "write data to";
        return new IOException($"Unable to {what} the transport connection: {error.Message}.", error);
    }
}
