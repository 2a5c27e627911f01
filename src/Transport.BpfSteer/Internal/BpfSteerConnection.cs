using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using BpfSteer.Interop;
using BpfSteer.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// One accepted TCP connection, owned by the worker that accepted it: the receive and send loops run on that worker's
/// thread with non-blocking recv/send, woken by edge-triggered epoll. Shaped like Kestrel's SocketConnection: the same
/// abort, graceful-FIN and ConnectionClosed rules. Split by concern: Receive, Send, Features, Handoff.
/// </summary>
internal sealed partial class BpfSteerConnection : ConnectionContext, IEventLoopHandler
{
    private const uint EpollEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

    private readonly Worker _worker;
    private readonly SafeFileDescriptorHandle _socket;
    private readonly ILogger _logger;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly ReadinessSignal _readable = new();
    private readonly WritableSignal _writable = new();
    private readonly ConnectionScheduler _scheduler;
    private readonly CancellationTokenSource _connectionClosedTokenSource = new();
    private readonly TaskCompletionSource _waitForConnectionClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _shutdownLock = new();
    private ulong _epollToken;
    private bool _socketShutdown;
    private volatile Exception? _shutdownReason;
    private bool _connectionClosedFired;
    private bool _peerClosedReading;
    private int _closedOnce;
    private IFeatureCollection? _features;
    private IDictionary<object, object?>? _items;
    private string? _connectionId;

    public BpfSteerConnection(Worker worker, SafeFileDescriptorHandle socket, IPEndPoint? local, IPEndPoint? remote,
        int incomingCpu, ulong cookie, BpfSteerTransportOptions options, ILogger logger)
    {
        _worker = worker;
        _socket = socket;
        _logger = logger;
        LocalEndPoint = local;
        RemoteEndPoint = remote;
        IncomingCpu = incomingCpu;
        SocketCookie = cookie;
        ConnectionClosed = _connectionClosedTokenSource.Token;

        // Our side (recv into input; send from output, except an HTTP/2 connection's sends, see SendQueue) runs on the
        // worker; the application side runs inline on the worker (HTTP/1.x: an HTTP/2 connection moves to the thread
        // pool on its first bytes) or on the thread pool, as configured.
        _scheduler = new ConnectionScheduler(worker, options.ApplicationScheduling == ApplicationScheduling.Inline);
        var maxRead = options.MaxReadBufferSize ?? 0;
        var maxWrite = options.MaxWriteBufferSize ?? 0;
        _input = new Pipe(new PipeOptions(worker.MemoryPool, _scheduler, worker, maxRead, maxRead / 2, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(worker.MemoryPool, _scheduler.Sends, _scheduler, maxWrite, maxWrite / 2, useSynchronizationContext: false));
        Transport = new DuplexPipe(_input.Reader, _output.Writer);
    }

    public override string ConnectionId
    {
        get => _connectionId ??= ConnectionIds.Next();
        set => _connectionId = value;
    }

    public override IDuplexPipe Transport { get; set; }

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public MemoryPool<byte> MemoryPool => _worker.MemoryPool;

    /// <summary>Registers with the worker's epoll and starts both loops; on the worker thread, right after accept.</summary>
    public void Start()
    {
        _epollToken = _worker.Register(_socket, EpollEvents, this);
        _worker.Connections.Add(this);
        _ = RunAsync();
    }

    public void OnEvents(uint events)
    {
        if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
        {
            // Sticky: the FIN/RST may share the edge with the last data, and no further edge will come for it.
            _peerClosedReading = true;
        }
        if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
        {
            _readable.Set();
        }
        if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0)
        {
            _writable.Set();
        }
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        // Graceful FIN even for aborts, as Kestrel's Sockets transport; then stop the send loop.
        Shutdown(abortReason);
        _output.Reader.CancelPendingRead();
    }

    // Kestrel calls this after the connection middleware is done, i.e. after ConnectionClosed fired.
    public override async ValueTask DisposeAsync()
    {
        Transport.Input.Complete();
        Transport.Output.Complete();
        await _closed.Task.ConfigureAwait(false);
        _connectionClosedTokenSource.Dispose();
    }

    private async Task RunAsync()
    {
        try
        {
            var receive = DoReceive();
            var send = DoSend();
            await receive.ConfigureAwait(false);
            await send.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            BpfSteerLog.ConnectionError(_logger, ConnectionId, ex);
        }
        _worker.Schedule(static s => ((BpfSteerConnection)s!).CloseOnWorker(), this);
    }

    /// <summary>Both loops are done: leave epoll and close the descriptor (or give it to the hand-off).</summary>
    private void CloseOnWorker()
    {
        if (Interlocked.Exchange(ref _closedOnce, 1) != 0)
        {
            return;
        }
        _worker.Unregister(_socket, _epollToken);
        _worker.Connections.Remove(this);
        _worker.Counters.OnClosed();
        if (_handoff is { } handoff)
        {
            handoff.TrySetResult(_socket.Detach());
        }
        else
        {
            _socket.Dispose();
        }
        _closed.TrySetResult();
    }

    /// <summary>The worker's loop died (its thread): nothing will run this connection's loops again, so end it here.</summary>
    internal void FailFromWorker(Exception error)
    {
        if (Interlocked.Exchange(ref _closedOnce, 1) != 0)
        {
            return;
        }
        Shutdown(new ConnectionAbortedException("The BpfSteer worker serving this connection failed.", error));
        _input.Writer.Complete(error);
        _output.Reader.Complete(error);
        FireConnectionClosed();
        _worker.Counters.OnClosed();
        _handoff?.TrySetException(error);
        _socket.Dispose();
        _closed.TrySetResult();
    }

    private void Shutdown(Exception? reason)
    {
        lock (_shutdownLock)
        {
            if (_socketShutdown || _handoff is not null)
            {
                return;
            }
            _socketShutdown = true;
            _shutdownReason = reason ?? new ConnectionAbortedException("The BpfSteer transport's send loop completed gracefully.");
            BpfSteerLog.ConnectionWriteFin(_logger, ConnectionId, _shutdownReason.Message);
            try
            {
                // FIN both ways; the receive loop then sees EOF through epoll. The descriptor is closed on the worker.
                NativeSocket.TryShutdown(_socket, SHUT_RDWR);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private void FireConnectionClosed()
    {
        if (_connectionClosedFired)
        {
            return;
        }
        _connectionClosedFired = true;
        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            try
            {
                state._connectionClosedTokenSource.Cancel();
            }
            catch (Exception ex)
            {
                BpfSteerLog.ConnectionError(state._logger, state.ConnectionId, ex);
            }
            state._waitForConnectionClosed.TrySetResult();
        }, this, preferLocal: false);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
