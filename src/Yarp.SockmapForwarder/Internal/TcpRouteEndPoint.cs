using System.Net;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// The Kestrel endpoint of a TCP route: only <see cref="TcpRouteListenerFactory"/> binds it (no Kestrel transport can), so
/// the route is a code-defined Kestrel endpoint as before — Kestrel ignores URLs once one exists, binds no default
/// address, fails its start on a port in use and lists the route among its addresses — while the listen sockets and
/// every connection belong to the route's own loops.
/// </summary>
internal sealed class TcpRouteEndPoint(TcpRouteState route, string display) : EndPoint
{
    public TcpRouteState Route { get; } = route;

    /// <summary>"127.0.0.1:6380" (the bound port once bound): Kestrel shows it as http://127.0.0.1:6380.</summary>
    public override string ToString() => display;
}
