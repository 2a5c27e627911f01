using Yarp.SockmapForwarder;

namespace ProxyHost.Status;

/// <summary>
/// The status contract promises a route mode of "Sockmap" or "UserSpace". In Auto mode the forwarder decides per
/// connection and reports "Auto" until the first one; ProxyHost then reports the path the first connection is expected
/// to take — user space, unless <c>BpfSteer:Forwarder:AutoAllowsSockmap</c> is set: by default the forwarder keeps Auto
/// routes off sockmap (with its queue bound, bulk streams measured no faster there than on splice) — and says in the
/// reason that it is expected, not observed.
/// </summary>
internal static class RouteMode
{
    public const string Sockmap = "Sockmap";
    public const string UserSpace = "UserSpace";

    public static (string Mode, string Reason) Resolve(TcpRouteStatus route, ISockmapForwarderStatus forwarder, bool autoAllowsSockmap)
    {
        if (route.Mode is TcpForwarderMode.Sockmap or TcpForwarderMode.UserSpace)
        {
            return (route.Mode.ToString(), route.ModeReason);
        }
        if (!forwarder.SockmapUsable)
        {
            return (UserSpace, $"expected: mode {route.Mode}, {route.ModeReason}; sockmap is not usable here: {forwarder.SockmapDetail}");
        }
        return autoAllowsSockmap
            ? (Sockmap, $"expected: mode {route.Mode}, {route.ModeReason}; BpfSteer:Forwarder:AutoAllowsSockmap is set: the kernel path unless the placement rule sees one shared CPU")
            : (UserSpace, $"expected: mode {route.Mode}, {route.ModeReason}; Auto keeps routes on the user-space path by default (with the queue bound, bulk streams measured no faster on sockmap than on splice); set Mode=Sockmap or BpfSteer:Forwarder:AutoAllowsSockmap for the kernel path");
    }

    /// <summary>The forwarder's Auto policy from the app's options (false when the forwarder is not registered).</summary>
    public static bool AutoAllowsSockmap(IServiceProvider services)
        => services.GetService<Microsoft.Extensions.Options.IOptions<SockmapForwarderOptions>>()?.Value.AutoAllowsSockmap ?? false;
}
