using System.Net.Sockets;
using Yarp.SockmapForwarder.DataPath;
using Yarp.SockmapForwarder.DataPath.UserSpace;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Forwarding, once the backend is connected: the path is chosen (<see cref="DataPathForwarder.ChooseForLoop"/>), then
/// either the user-space relay runs on this loop, or (Mode=Sockmap, or Auto with AutoAllowsSockmap) both sockets leave
/// this loop for the sockmap engine's pairing.
/// </summary>
internal sealed partial class TcpRouteConnection
{
    private CancellationTokenSource? _sockmapAbort;

    private void StartForwarding()
    {
        var path = _owner.DataPath.ChooseForLoop(_config, Route.Index, _config.Cpu ?? _loop.Cpu);
        var preamble = _config.ProxyProtocol == ProxyProtocolVersion.None ? [] : ProxyProtocolHeader.Build(_config.ProxyProtocol, _remote, Local);
        if (path.IsSockmap)
        {
            HandOffToSockmap(preamble);
            return;
        }
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
    /// which runs here, synchronously, up to the insertion; the rest of the connection's life is the engine's. Its end is
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

    /// <summary>Server stop or route closed while the sockmap engine holds the connection.</summary>
    public void AbortSockmap() => _sockmapAbort?.Cancel();
}
