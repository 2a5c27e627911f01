using Yarp.SockmapForwarder;

namespace ProxyHost.Status;

/// <summary>
/// The status contract promises a route mode of "Sockmap" or "UserSpace". In Auto mode the forwarder decides per
/// connection and reports "Auto" until the first one; ProxyHost then reports the path the first connection is expected
/// to take — the kernel path where sockmap is usable (the placement rule may still move a route whose client, backend
/// and forwarding share one CPU) — and says in the reason that it is expected, not observed.
/// </summary>
internal static class RouteMode
{
    public const string Sockmap = "Sockmap";
    public const string UserSpace = "UserSpace";

    public static (string Mode, string Reason) Resolve(TcpRouteStatus route, ISockmapForwarderStatus forwarder)
    {
        if (route.Mode is TcpForwarderMode.Sockmap or TcpForwarderMode.UserSpace)
        {
            return (route.Mode.ToString(), route.ModeReason);
        }
        return forwarder.SockmapUsable
            ? (Sockmap, $"expected: mode {route.Mode}, {route.ModeReason}; the kernel path, unless the placement rule sees client, backend and forwarding share one CPU")
            : (UserSpace, $"expected: mode {route.Mode}, {route.ModeReason}; sockmap is not usable here: {forwarder.SockmapDetail}");
    }
}
