using System.Net;
using System.Net.Sockets;
using BpfSteer.Interop;
using BpfSteer.Internal;
using Microsoft.Extensions.Logging;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// A worker's member of one endpoint's reuseport group: this is where a connection is accepted, on the worker thread,
/// and where its CPU facts (SO_INCOMING_CPU, SO_COOKIE) are read and counted.
/// </summary>
internal sealed class WorkerListener : IEventLoopHandler
{
    // Per wake-up, so one busy listener cannot starve the worker's connections (level-triggered: the rest comes next round).
    private const int AcceptBatch = 64;

    // Out of descriptors or memory: stop polling for a moment instead of spinning on a level-triggered listener.
    // The connections wait in the backlog meanwhile; nothing is refused that the backlog can hold.
    private static readonly TimeSpan ResourceBackoff = TimeSpan.FromMilliseconds(100);
    private const int EMFILE = 24, ENFILE = 23, ENOBUFS = 105;

    private readonly Worker _worker;
    private readonly Socket _socket;
    private readonly BpfSteerConnectionListener _owner;
    private readonly BpfSteerTransportOptions _options;
    private readonly ILogger _logger;
    private readonly IPEndPoint? _fixedLocal;
    private ulong _token;
    private bool _paused;
    private int _pausesThisEpisode; // back-offs since the last successful accept: logged once when it starts and ends
    private bool _closed;

    public WorkerListener(Worker worker, Socket socket, BpfSteerConnectionListener owner, BpfSteerTransportOptions options, ILogger logger)
    {
        _worker = worker;
        _socket = socket;
        _owner = owner;
        _options = options;
        _logger = logger;
        var local = (IPEndPoint)socket.LocalEndPoint!;
        // A specific address is every connection's local address; a wildcard needs getsockname per connection.
        _fixedLocal = local.Address.Equals(IPAddress.Any) || local.Address.Equals(IPAddress.IPv6Any) ? null : local;
    }

    /// <summary>Worker thread: start polling the listen socket (level-triggered).</summary>
    public void Register() => _token = _worker.Register(_socket.SafeHandle, EPOLLIN, this);

    /// <summary>Worker thread: accept what is queued, then stop polling. The caller closes the socket.</summary>
    public void DrainAndUnregister()
    {
        _closed = true;
        if (_worker.IsFaulted)
        {
            return; // its member was closed when the worker failed
        }
        while (AcceptOne())
        {
        }
        _worker.Unregister(_socket.SafeHandle, _token);
    }

    /// <summary>Worker thread: resource exhaustion; the listener is polled again after <see cref="ResourceBackoff"/>.</summary>
    private void Pause()
    {
        if (_paused)
        {
            return;
        }
        _paused = true;
        _worker.Unregister(_socket.SafeHandle, _token);
        _ = Task.Delay(ResourceBackoff).ContinueWith(static (_, s) =>
        {
            var self = (WorkerListener)s!;
            self._worker.Schedule(static l => ((WorkerListener)l!).Resume(), self);
        }, this, TaskScheduler.Default);
    }

    private void Resume()
    {
        _paused = false;
        if (!_closed && !_worker.IsFaulted)
        {
            Register();
        }
    }

    public void OnEvents(uint events)
    {
        for (var i = 0; i < AcceptBatch && AcceptOne(); i++)
        {
        }
    }

    private bool AcceptOne()
    {
        var result = NativeSocketAddress.TryAccept(_socket.SafeHandle, out var fd, out var remote);
        if (!result.IsSuccess)
        {
            if (result.Errno is EMFILE or ENFILE or ENOBUFS or Errno.ENOMEM)
            {
                // Once per episode, not per back-off: a host out of descriptors must not also flood its log.
                _worker.Counters.OnAcceptResourceFailure(episodeStarts: _pausesThisEpisode == 0);
                if (_pausesThisEpisode++ == 0)
                {
                    BpfSteerLog.AcceptPaused(_logger, _owner.EndPointText, _worker.Cpu, result.ToString(), (int)ResourceBackoff.TotalMilliseconds);
                }
                if (!_closed)
                {
                    Pause();
                }
            }
            else if (result.Errno != Errno.EAGAIN && result.Errno != Errno.ECONNABORTED)
            {
                BpfSteerLog.AcceptFailed(_logger, _owner.EndPointText, _worker.Cpu, result.ToString());
            }
            return result.Errno == Errno.ECONNABORTED;
        }
        if (_pausesThisEpisode > 0)
        {
            BpfSteerLog.AcceptResumed(_logger, _owner.EndPointText, _worker.Cpu, _pausesThisEpisode);
            _pausesThisEpisode = 0;
        }
        var handle = fd!;
        try
        {
            if (_options.NoDelay)
            {
                NativeSocket.TrySetInt(handle, IPPROTO_TCP, TCP_NODELAY, 1);
            }
            var incoming = NativeSocket.TryGetInt(handle, SOL_SOCKET, SO_INCOMING_CPU);
            var incomingCpu = incoming.IsSuccess ? incoming.IntValue : -1;
            var cookie = NativeSocket.GetCookie(handle);
            var local = _fixedLocal ?? NativeSocketAddress.GetLocal(handle);
            var connection = new BpfSteerConnection(_worker, handle, local, remote, incomingCpu, cookie, _options, _logger);
            _worker.Counters.OnAccepted(incomingCpu == _worker.Cpu);
            connection.Start();
            _owner.Deliver(connection);
        }
        catch (Exception ex)
        {
            handle.Dispose();
            BpfSteerLog.AcceptFailed(_logger, _owner.EndPointText, _worker.Cpu, ex.Message);
        }
        return true;
    }
}
