using Microsoft.Extensions.Diagnostics.HealthChecks;
using ProxyHost.Hosting;
using Yarp.ReverseProxy;
using Yarp.SockmapForwarder;

namespace ProxyHost.Health;

/// <summary>
/// "routes": Unhealthy when a route cannot serve: its cluster is unknown or has no available destination (YARP's
/// health state, fed by active and passive checks), or a configured TCP route is not listening.
/// </summary>
internal sealed class RouteHealthCheck(IProxyStateLookup proxyState, IServiceProvider services, IConfiguration configuration) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problems = new List<string>();
        var data = new Dictionary<string, object>();

        foreach (var route in proxyState.GetRoutes())
        {
            var id = route.Config.RouteId;
            var clusterId = route.Config.ClusterId;
            data[$"http:{id}"] = CheckCluster($"HTTP route '{id}'", clusterId, problems);
        }

        var forwarder = services.GetService<ISockmapForwarderStatus>();
        var listening = forwarder?.Routes.Select(r => r.Id).ToHashSet(StringComparer.OrdinalIgnoreCase) ?? [];
        foreach (var route in TcpRouteSettings.Read(configuration))
        {
            var state = CheckCluster($"TCP route '{route.Id}'", route.ClusterId, problems);
            if (forwarder is not null && !listening.Contains(route.Id))
            {
                problems.Add($"TCP route '{route.Id}' is configured but the forwarder does not report it (not listening).");
                state = "not listening";
            }
            data[$"tcp:{route.Id}"] = state;
        }

        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy("Every route has an available destination.", data)
            : HealthCheckResult.Unhealthy(string.Join(" ", problems), data: data));
    }

    private string CheckCluster(string what, string? clusterId, List<string> problems)
    {
        if (clusterId is null || !proxyState.TryGetCluster(clusterId, out var cluster))
        {
            problems.Add($"{what} points at the cluster '{clusterId}', which does not exist.");
            return "unknown cluster";
        }
        var available = cluster.DestinationsState.AvailableDestinations.Count;
        var all = cluster.DestinationsState.AllDestinations.Count;
        if (available == 0)
        {
            problems.Add($"{what}: the cluster '{clusterId}' has no available destination (0 of {all} healthy).");
        }
        return $"{available}/{all} destinations available";
    }
}
