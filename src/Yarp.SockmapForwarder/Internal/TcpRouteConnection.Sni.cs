using BpfSteer.Interop;
using Yarp.SockmapForwarder.DataPath;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// The SNI filter: the TLS ClientHello is read with MSG_PEEK, never consumed, so the backend receives it unchanged from
/// the socket itself. Each new arrival (an EPOLLIN edge) peeks again from the start.
/// </summary>
internal sealed partial class TcpRouteConnection
{
    /// <summary>The ClientHello must arrive within this time of the connection being accepted.</summary>
    public static readonly TimeSpan SniPeekTimeout = TimeSpan.FromSeconds(10);

    private void PeekClientHello()
    {
        var buffer = _loop.Scratch.AsSpan(0, Math.Min(_loop.Scratch.Length, TlsClientHello.MaxBytes));
        var r = NativeSocket.TryReceive(_client, buffer, MSG_PEEK | MSG_DONTWAIT);
        if (!r.IsSuccess && r.Errno == Errno.EAGAIN)
        {
            return;
        }
        if (!r.IsSuccess || r.Value == 0)
        {
            RejectSni(null); // reset, or end of stream before a whole ClientHello
            return;
        }
        var status = TlsClientHello.TryGetServerName(buffer[..(int)r.Value], out var serverName);
        if (status == TlsParseStatus.NeedMoreData && r.Value < buffer.Length && (_clientEvents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0)
        {
            return; // more of the ClientHello is on its way
        }
        if (status != TlsParseStatus.Complete)
        {
            RejectSni(null);
            return;
        }
        serverName ??= "";
        if (!SniMatcher.Matches(_config.Sni, serverName))
        {
            RejectSni(serverName);
            return;
        }
        _deadline = 0;
        BeginConnect();
    }

    /// <summary>No matching server name (null: not a TLS ClientHello, or none within the time): closed, counted, logged.</summary>
    private void RejectSni(string? serverName)
    {
        Route.CountSniRejected();
        SockmapForwarderLog.SniRejected(_owner.Logger, Route.RouteId, _remote, serverName ?? "(not a TLS ClientHello)");
        Close(null, CloseReason.SniMismatch, reset: false);
    }
}
