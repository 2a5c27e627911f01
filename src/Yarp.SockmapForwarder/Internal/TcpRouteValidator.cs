using Yarp.ReverseProxy.Configuration;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Checks TCP routes against each other and against the YARP clusters they use. Like YARP's own validator it never stops
/// at the first problem: every message is appended and names the route (or cluster and destination) and the key.
/// </summary>
/// <remarks>
/// Routes come from <see cref="TcpRouteConfigReader"/>, which returns routes with syntax problems too; an empty
/// <c>Listen</c> or <c>ClusterId</c> was reported missing there and is not checked again here.
/// </remarks>
internal static class TcpRouteValidator
{
    public static void Validate(IReadOnlyList<TcpRouteConfig> routes, IReadOnlyDictionary<string, ClusterConfig> clusters, Func<SockmapAvailability> sockmap, List<string> errors)
    {
        if (routes.Count > RouteIndexes.MaxConfiguredRoutes)
        {
            errors.Add($"{routes.Count} TCP routes are configured; at most {RouteIndexes.MaxConfiguredRoutes} are supported.");
        }

        var listens = new List<(string RouteId, ListenAddress Address)>();
        foreach (var route in routes)
        {
            ValidateListen(route, listens, errors);

            if (route.Cpu is { } cpu && cpu >= Environment.ProcessorCount)
            {
                errors.Add($"The Cpu '{cpu}' set on the TCP route '{route.RouteId}' does not exist; this machine has CPUs 0 to {Environment.ProcessorCount - 1}.");
            }
            if (route.ConnectTimeout <= TimeSpan.Zero)
            {
                errors.Add($"The ConnectTimeout '{route.ConnectTimeout}' set on the TCP route '{route.RouteId}' must be positive.");
            }
            if (route.IdleTimeout < TimeSpan.Zero)
            {
                errors.Add($"The IdleTimeout '{route.IdleTimeout}' set on the TCP route '{route.RouteId}' must be zero (no idle timeout) or positive.");
            }
            if (route.MaxConnections is { } max && max <= 0)
            {
                errors.Add($"The MaxConnections '{max}' set on the TCP route '{route.RouteId}' must be positive (leave it unset for no limit).");
            }
            if (route.MaxQueuedBytes < TcpRouteConfig.MinMaxQueuedBytes)
            {
                errors.Add($"The MaxQueuedBytes '{route.MaxQueuedBytes}' set on the TCP route '{route.RouteId}' is too small to work: it must be at least {TcpRouteConfig.MinMaxQueuedBytes} (1 MiB); below it nearly every bulk segment would park.");
            }
            foreach (var host in route.Sni)
            {
                if (!SniMatcher.IsValidPattern(host))
                {
                    errors.Add($"The Sni host '{host}' set on the TCP route '{route.RouteId}' is not a DNS host name or a '*.example.com' wildcard.");
                }
            }
            // Asked only for such a route: the answer loads the BPF program and runs the data path's self-test.
            if (route.Mode == TcpForwarderMode.Sockmap && sockmap() is { Usable: false } unusable)
            {
                errors.Add($"The Mode 'Sockmap' set on the TCP route '{route.RouteId}' cannot be used in this process: {unusable.Detail}. Use 'Auto' or 'UserSpace'.");
            }

            ValidateCluster(route, clusters, errors);
        }
    }

    private static void ValidateListen(TcpRouteConfig route, List<(string RouteId, ListenAddress Address)> listens, List<string> errors)
    {
        if (route.Listen.Length == 0)
        {
            return; // reported by the reader as a missing required key
        }
        if (!ListenAddress.TryParse(route.Listen, out var listen))
        {
            errors.Add(PortOutOfRange(route.Listen) is { } port
                ? $"The Listen '{route.Listen}' set on the TCP route '{route.RouteId}' has the port {port}; a port is 0 (any free port) to 65535."
                : $"The Listen '{route.Listen}' set on the TCP route '{route.RouteId}' is not an endpoint such as '127.0.0.1:6380', '[::1]:6380', '*:6380' or 'localhost:6380'.");
            return;
        }
        if (listen.Kind == ListenAddressKind.Localhost && listen.Port == 0)
        {
            errors.Add($"The Listen '{route.Listen}' set on the TCP route '{route.RouteId}' uses port 0 with 'localhost'; Kestrel cannot bind a dynamic port for 'localhost': use '127.0.0.1:0'.");
            return;
        }
        foreach (var (otherId, other) in listens)
        {
            if (listen.Overlaps(other))
            {
                errors.Add($"The Listen '{route.Listen}' set on the TCP route '{route.RouteId}' is also used by the TCP route '{otherId}'.");
            }
        }
        listens.Add((route.RouteId, listen));
    }

    private static void ValidateCluster(TcpRouteConfig route, IReadOnlyDictionary<string, ClusterConfig> clusters, List<string> errors)
    {
        if (route.ClusterId.Length == 0)
        {
            return; // reported by the reader as a missing required key
        }
        if (!clusters.TryGetValue(route.ClusterId, out var cluster))
        {
            errors.Add($"The ClusterId '{route.ClusterId}' set on the TCP route '{route.RouteId}' does not name a cluster of the YARP configuration.");
            return;
        }
        foreach (var (name, destination) in cluster.Destinations ?? new Dictionary<string, DestinationConfig>())
        {
            if (!TcpDestinationAddress.TryParse(destination.Address, out _))
            {
                errors.Add($"The Address '{destination.Address}' set on the destination '{name}' of the cluster '{cluster.ClusterId}' (used by the TCP route '{route.RouteId}') is not 'tcp://host:port'.");
            }
        }
    }

    /// <summary>The port of <c>HOST:PORT</c> when it is a number above 65535, else null.</summary>
    private static long? PortOutOfRange(string listen)
    {
        var colon = listen.LastIndexOf(':');
        return colon > 0 && long.TryParse(listen.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            && port > System.Net.IPEndPoint.MaxPort ? port : null;
    }
}
