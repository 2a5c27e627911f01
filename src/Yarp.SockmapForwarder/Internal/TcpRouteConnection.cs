using System.Diagnostics;
using System.Net;
using BpfSteer.Internal;
using BpfSteer.Interop;
using Yarp.SockmapForwarder.DataPath;
using Yarp.SockmapForwarder.DataPath.UserSpace;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// One TCP route connection, from accept to close, on the <see cref="TcpRouteLoop"/> that accepted it (every method runs
/// on that loop's thread; a relayed connection may move to another CPU's loop: TcpRouteConnection.Move.cs). States:
/// admission → SNI peek (when the route filters) → destination choice and non-blocking connect (timeout, failover,
/// passive health) → forwarding (<see cref="LoopRelay"/> in user space, or handed to the sockmap engine for
/// <c>Mode=Sockmap</c>) → close: counters, metrics, access log. Both sockets are registered once, edge-triggered for
/// IN|OUT|RDHUP, so no state change costs an epoll_ctl.
/// </summary>
internal sealed partial class TcpRouteConnection
{
    private const uint Events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

    private TcpRouteLoop _loop;
    private readonly TcpRouteListeners _owner;
    private readonly TcpRouteConfig _config;
    private readonly SafeFileDescriptorHandle _client;
    private readonly IPEndPoint? _remote;
    private readonly long _started;
    private readonly Side _clientSide;
    private IPEndPoint? _local;
    private ulong _clientToken;
    private uint _clientEvents;
    private State _state;
    private long _deadline;
    private bool _entered;
    private LoopRelay? _relay;

    private enum State { New, SniWait, Resolving, Connecting, Relaying, Moving, Sockmap, Done }

    public TcpRouteConnection(TcpRouteLoop loop, TcpRouteState route, SafeFileDescriptorHandle client, IPEndPoint? remote, IPEndPoint? fixedLocal)
    {
        _loop = loop;
        _owner = loop.Owner;
        Route = route;
        _config = route.Config; // one snapshot per connection: a reload applies to the next connections
        _client = client;
        _remote = remote;
        _local = fixedLocal;
        _started = Stopwatch.GetTimestamp();
        _clientSide = new Side(this, 0);
    }

    public TcpRouteState Route { get; }

    /// <summary>This connection's index in its loop's list (maintained by the loop).</summary>
    public int LoopSlot { get; set; } = -1;

    /// <summary>The local address the client connected to (getsockname only when the listener is a wildcard, and only when asked).</summary>
    private IPEndPoint? Local => _local ??= NativeSocketAddress.GetLocal(_client);

    /// <summary>Admission, then SNI or destination choice.</summary>
    public void Start()
    {
        if (Route.Removed)
        {
            Route.CountRemoved();
            Reject(CloseReason.RouteRemoved);
            return;
        }
        if (!Route.TryEnter(_config.MaxConnections))
        {
            SockmapForwarderLog.MaxConnectionsReached(_owner.Logger, Route.RouteId, _config.MaxConnections!.Value, _remote);
            Reject(CloseReason.MaxConnections);
            return;
        }
        _entered = true; // TCP_NODELAY is inherited from the listen socket
        try
        {
            _clientToken = _loop.Register(_client, Events, _clientSide);
        }
        catch (Exception)
        {
            Close(null, CloseReason.Error, reset: true);
            return;
        }
        _loop.Add(this);
        if (_config.Sni.Count > 0)
        {
            _state = State.SniWait;
            _deadline = Environment.TickCount64 + (long)SniPeekTimeout.TotalMilliseconds;
            return; // the ClientHello's first bytes raise EPOLLIN (the registration reports what is already queued)
        }
        BeginConnect();
    }

    /// <summary>The loop's tick: deadlines of the current state.</summary>
    public void Tick(long now)
    {
        switch (_state)
        {
            case State.SniWait when now >= _deadline:
                RejectSni(null);
                break;
            case State.Connecting when now >= _deadline:
                ConnectFailed($"no answer within the ConnectTimeout ({_config.ConnectTimeout})");
                break;
            case State.Relaying when _relay!.CheckIdle(now, (long)_config.IdleTimeout.TotalMilliseconds):
                Complete(DataPathKind.UserSpace);
                break;
        }
    }

    /// <summary>Server stop or route closed: end the connection now (both sides reset).</summary>
    public void Abort()
    {
        switch (_state)
        {
            case State.Relaying:
                _relay!.Abort();
                Complete(DataPathKind.UserSpace);
                break;
            case State.Sockmap or State.Moving or State.Done:
                break; // the sockmap engine aborts its own connections (see TcpRouteListeners.AbortAsync); a moving one, its new loop
            default:
                Close(_destination, CloseReason.Aborted, reset: true);
                break;
        }
    }

    private void OnClientEvents(uint events)
    {
        _clientEvents |= events;
        switch (_state)
        {
            case State.SniWait:
                PeekClientHello();
                break;
            case State.Resolving or State.Connecting when (events & (EPOLLERR | EPOLLHUP)) != 0:
                // The client reset (or vanished) before the backend answered: stop connecting.
                Close(null, CloseReason.ClientReset, reset: true);
                break;
            case State.Relaying:
                _relay!.OnEvents(0, events, _loop.Scratch);
                if (_relay.IsFinished)
                {
                    Complete(DataPathKind.UserSpace);
                }
                else if (_relay.IsBulk)
                {
                    MaybePromote();
                }
                break;
        }
    }

    private void OnBackendEvents(uint events)
    {
        _backendEvents |= events;
        switch (_state)
        {
            case State.Connecting:
                OnConnectEvents(events);
                break;
            case State.Relaying:
                _relay!.OnEvents(1, events, _loop.Scratch);
                if (_relay.IsFinished)
                {
                    Complete(DataPathKind.UserSpace);
                }
                else if (_relay.IsBulk)
                {
                    MaybePromote();
                }
                break;
        }
    }

    /// <summary>Closed before forwarding, without being admitted (route removed, limit): nothing was registered yet.</summary>
    private void Reject(CloseReason reason)
    {
        _state = State.Done;
        _client.Dispose();
        Finish(null, null, 0, 0, reason);
    }

    /// <summary>Closes both sockets before (or instead of) forwarding.</summary>
    private void Close(ConnectedDestination? destination, CloseReason reason, bool reset)
    {
        if (_state == State.Done)
        {
            return;
        }
        _state = State.Done;
        if (reset)
        {
            NativeConnect.TrySetResetOnClose(_client);
        }
        _client.Dispose(); // closing removes it from epoll; Unregister then only frees the token
        _loop.Unregister(_client, _clientToken);
        CloseBackend();
        _loop.Remove(this);
        Finish(destination, null, 0, 0, reason);
    }

    /// <summary>The relay ended (it closed both sockets).</summary>
    private void Complete(DataPathKind path)
    {
        if (_state == State.Done)
        {
            return;
        }
        _state = State.Done;
        _loop.Unregister(_client, _clientToken);
        _loop.Unregister(_backend!, _backendToken);
        _loop.Remove(this);
        var relay = _relay!;
        _owner.DataPath.CountConnection(Route.Index, sockmap: false);
        DataPathLog.ConnectionEnded(_owner.DataPathLogger, Route.RouteId, path.Name(), relay.Reason.Name(), relay.BytesClientToBackend, relay.BytesBackendToClient);
        Forwarded(path, relay.BytesClientToBackend, relay.BytesBackendToClient, relay.Reason);
    }

    /// <summary>Counts a forwarded connection and closes its books (any thread: the sockmap path completes elsewhere).</summary>
    private void Forwarded(DataPathKind path, long clientToBackend, long backendToClient, CloseReason reason)
    {
        Route.CountForwarded(path, fallback: _config.Mode != TcpForwarderMode.UserSpace && path != DataPathKind.Sockmap && !(_onRelayByDesign && !_promoted));
        Finish(_destination, path, clientToBackend, backendToClient, reason);
    }

    /// <summary>Releases the destination and the route's slot, records the metric and writes the access-log line.</summary>
    private void Finish(ConnectedDestination? destination, DataPathKind? path, long clientToBackend, long backendToClient, CloseReason reason)
    {
        destination?.Dispose();
        if (_entered)
        {
            _entered = false;
            Route.Exit();
        }
        if (reason == CloseReason.NoDestination)
        {
            Route.CountNoDestination();
        }
        var elapsed = Stopwatch.GetElapsedTime(_started);
        var reasonName = reason.Name();
        _owner.Metrics.RecordConnectionClosed(Route.RouteId, reasonName, elapsed);
        if (!_owner.AccessLog.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Information))
        {
            return;
        }
        var target = destination?.Destination;
        var entry = new AccessLogEntry(Route.RouteId, _remote, target?.DestinationId ?? "-", target?.Model.Config.Address ?? "-", path?.Name() ?? "-",
            clientToBackend, backendToClient, elapsed.TotalMilliseconds, reasonName);
        if (_loop.IsCurrentThread)
        {
            _loop.Log(entry);
        }
        else
        {
            entry.Write(_owner.AccessLog); // the sockmap path completes on another thread
        }
    }

    /// <summary>The epoll handler of one side (0 = client, 1 = backend).</summary>
    private sealed class Side(TcpRouteConnection owner, int index) : IEventLoopHandler
    {
        public void OnEvents(uint events)
        {
            if (index == 0)
            {
                owner.OnClientEvents(events);
            }
            else
            {
                owner.OnBackendEvents(events);
            }
        }
    }
}
