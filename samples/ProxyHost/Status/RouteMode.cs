using Yarp.SockmapForwarder;

namespace ProxyHost.Status;

/// <summary>
/// The status contract promises a route mode of "Sockmap" or "UserSpace". In Auto mode the forwarder decides per
/// connection and reports "Auto" until the first one; ProxyHost then reports the path the first connection is expected
/// to take — user space: the forwarder keeps Auto routes off sockmap by default (its queue bound is not proven lossless
/// on this kernel) — and says in the reason that it is expected, not observed.
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
            ? (UserSpace, $"expected: mode {route.Mode}, {route.ModeReason}; Auto keeps routes on the user-space path by default (the forwarder's sockmap queue bound is not proven lossless on this kernel); set Mode=Sockmap for the kernel path")
            : (UserSpace, $"expected: mode {route.Mode}, {route.ModeReason}; sockmap is not usable here: {forwarder.SockmapDetail}");
    }
}
