using System.Net.Sockets;
using Yarp.SockmapForwarder.DataPath;
using Yarp.SockmapForwarder.DataPath.UserSpace;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Forwarding, once the backend is connected: the path is chosen (<see cref="DataPathForwarder.ChooseForLoop"/>), then
/// either the user-space relay runs on this loop (Mode=UserSpace; Mode=Auto, until the connection turns bulk and is
/// promoted to sockmap: <see cref="MaybePromote"/>), or (Mode=Sockmap) both sockets leave this loop for the sockmap
/// engine's pairing.
/// </summary>
internal sealed partial class TcpRouteConnection
{
    private CancellationTokenSource? _sockmapAbort;

    /// <summary>An Auto connection relayed because every Auto connection starts on the relay: not a fallback.</summary>
    private bool _onRelayByDesign;

    /// <summary>The relay handed this connection to sockmap (<see cref="MaybePromote"/>).</summary>
    private bool _promoted;

    /// <summary>The data path declined this connection once (<see cref="MaybePromote"/>): it is not offered again.</summary>
    private bool _promotionDeclined;

    private void StartForwarding()
    {
        var path = _owner.DataPath.ChooseForLoop(_config, Route.Index, _config.Cpu ?? _loop.Cpu);
        var preamble = _config.ProxyProtocol == ProxyProtocolVersion.None ? [] : ProxyProtocolHeader.Build(_config.ProxyProtocol, _remote, Local);
        if (path.IsSockmap && !path.StartsOnRelay)
        {
            HandOffToSockmap(preamble);
            return;
        }
        _onRelayByDesign = path.StartsOnRelay;
        _owner.DataPath.RecordPath(Route.Index, Route.RouteId, path);
        _relay = new LoopRelay(_client, _backend!, preamble, _owner.DataPath.BytesSink(Route.Index));
        _state = State.Relaying;
        _relay.Start(_loop.Scratch, _clientEvents, _backendEvents);
        if (_relay.IsFinished)
        {
            Complete(DataPathKind.UserSpace);
        }
    }

    /// <summary>
    /// Mode=Sockmap: both sockets leave this loop (epoll, connection list) and go through the sockmap engine's pairing,
    /// which runs here up to the insertion, or until the early data has to wait for room in the backend's send buffer
    /// (then on a timer); the rest of the connection's life is the engine's. Its end is
    /// booked on the thread that completes it (everything <see cref="Forwarded"/> touches is thread-safe).
    /// </summary>
    private void HandOffToSockmap(byte[] preamble)
    {
        _loop.Unregister(_client, _clientToken);
        _loop.Unregister(_backend!, _backendToken);
        _loop.Remove(this);
        _state = State.Sockmap;
        var request = new ForwardingRequest
        {
            Route = _config,
            RouteIndex = Route.Index,
            Cpu = _config.Cpu ?? _loop.Cpu,
            ClientSocket = new Socket(new SafeSocketHandle(_client.Detach(), ownsHandle: true)),
            Backend = new Socket(new SafeSocketHandle(_backend!.Detach(), ownsHandle: true)),
            BackendPreamble = preamble,
        };
        _sockmapAbort = _owner.TrackSockmap(this);
        Task<ForwardingResult> forwarding;
        try
        {
            forwarding = _owner.DataPath.ForwardAsync(request, _sockmapAbort.Token);
        }
        catch (Exception ex)
        {
            forwarding = Task.FromException<ForwardingResult>(ex);
        }
        forwarding.ContinueWith(static (t, s) => ((TcpRouteConnection)s!).SockmapDone(t), this,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void SockmapDone(Task<ForwardingResult> forwarding)
    {
        _owner.UntrackSockmap(this); // the source is not disposed: an abort may still be cancelling it (it holds no timer)
        ForwardingResult result;
        if (forwarding.IsCompletedSuccessfully)
        {
            result = forwarding.Result;
        }
        else
        {
            // The forwarder owns both sockets and reports network errors in its result: an exception here is a bug.
            SockmapForwarderLog.ForwardingFailed(_owner.Logger, Route.RouteId, _remote, forwarding.Exception!.GetBaseException());
            result = new ForwardingResult(DataPathKind.UserSpace, 0, 0, CloseReason.Error);
        }
        _state = State.Done;
        Forwarded(result.Path, result.BytesClientToBackend, result.BytesBackendToClient, result.CloseReason);
    }

    /// <summary>
    /// <b>The promotion hook</b> (issue 12): runs after every relay event. When the relay has turned bulk and holds nothing,
    /// and the data path wants it (<see cref="DataPathForwarder.WantsPromotion"/>), both sockets leave this loop's epoll and
    /// are offered to <see cref="DataPathForwarder.TryPromote"/>; if it declines they are registered again and the relay
    /// continues where it was.
    /// </summary>
    private void MaybePromote()
    {
        var relay = _relay!;
        if (_promotionDeclined || !relay.IsBulk || relay.IsFinished || !relay.IsQuiescent || !relay.IsOpenBothWays
            || !_owner.DataPath.WantsPromotion(_config, Route.Index, relay.BytesClientToBackend, relay.BytesBackendToClient, _started))
        {
            return;
        }
        relay.ReleasePipes();
        _loop.Unregister(_client, _clientToken);
        _loop.Unregister(_backend!, _backendToken);
        _sockmapAbort = _owner.TrackSockmap(this);
        var candidate = new PromotionCandidate(_config, Route.Index, _config.Cpu ?? _loop.Cpu, _client, _backend!, relay.BytesClientToBackend, relay.BytesBackendToClient);
        Task<ForwardingResult>? promoted;
        try
        {
            promoted = _owner.DataPath.TryPromote(candidate, _sockmapAbort.Token);
        }
        catch (Exception ex)
        {
            promoted = Task.FromException<ForwardingResult>(ex);
        }
        if (promoted is null)
        {
            // Offered once: a declined connection (a socket closing, the maps full) stays on the relay for good, so a bulk
            // connection is not taken out of the loop's epoll and put back on every event.
            _promotionDeclined = true;
            _owner.UntrackSockmap(this);
            _clientToken = _loop.Register(_client, Events, _clientSide);
            _backendToken = _loop.Register(_backend!, Events, _backendSide!);
            return; // edge-triggered registration reports what is pending now: the relay picks up where it was
        }
        relay.HandOver(CloseReason.Completed);
        _promoted = true;
        _loop.Remove(this);
        _state = State.Sockmap;
        promoted.ContinueWith(static (t, s) => ((TcpRouteConnection)s!).SockmapDone(t), this,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Server stop or route closed while the sockmap engine holds the connection.</summary>
    public void AbortSockmap() => _sockmapAbort?.Cancel();
}
