using Yarp.SockmapForwarder;

namespace ProxyHost.Status;

/// <summary>
/// The status contract promises a route mode of "Sockmap" or "UserSpace". In Auto mode the forwarder decides per
/// connection and reports "Auto" until the first one; ProxyHost then reports the path the first connection will take
/// given what is known (sockmap usable or not), and says in the reason that it is the expected path, not an observed one.
/// </summary>
internal static class RouteMode
{
    public const string Sockmap = "Sockmap";
    public const string UserSpace = "UserSpace";

    public static (string Mode, string Reason) Resolve(TcpRouteStatus route, ISockmapForwarderStatus forwarder)
    {
        if (route.Mode is Sockmap or UserSpace)
        {
            return (route.Mode, route.ModeReason);
        }
        return forwarder.SockmapUsable
            ? (Sockmap, $"expected: mode {route.Mode}, {route.ModeReason}; sockmap is usable, so Auto starts on it (it moves the route to user space if the placement makes sockmap slower)")
            : (UserSpace, $"expected: mode {route.Mode}, {route.ModeReason}; sockmap is not usable here: {forwarder.SockmapDetail}");
    }
}
