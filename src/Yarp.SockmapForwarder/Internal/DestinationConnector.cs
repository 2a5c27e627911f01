using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Destination choice the way YARP does it for HTTP (health-filtered available destinations, the cluster's load-balancing
/// policy), the destination's address, and what a failed connect means (log, count, passive health). The connect itself
/// is non-blocking and runs on the connection's loop (<see cref="TcpRouteConnection"/>); nothing here blocks.
/// </summary>
internal sealed class DestinationConnector
{
    /// <summary>YARP's passive policy default reactivation period, used when the cluster sets none.</summary>
    private static readonly TimeSpan s_defaultReactivationPeriod = TimeSpan.FromSeconds(60);

    /// <summary>How long a host name's resolved addresses are reused: one lookup per second per name, not per connection.</summary>
    private static readonly TimeSpan s_resolvedLifetime = TimeSpan.FromSeconds(1);

    private static readonly HashSet<string> s_builtInPolicies = new(StringComparer.OrdinalIgnoreCase)
    {
        LoadBalancingPolicies.FirstAlphabetical, LoadBalancingPolicies.Random, LoadBalancingPolicies.PowerOfTwoChoices,
        LoadBalancingPolicies.RoundRobin, LoadBalancingPolicies.LeastRequests,
    };

    /// <summary>Shared by every connection whose policy is one of YARP's own (they never touch it): no allocation per connection.</summary>
    private static readonly DefaultHttpContext s_unusedContext = new();

    private readonly IProxyStateLookup _proxyState;
    private readonly IDestinationHealthUpdater _healthUpdater;
    private readonly Dictionary<string, ILoadBalancingPolicy> _policies;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<(string RouteId, string ClusterId), byte> _missingClusters = new();
    private readonly ConcurrentDictionary<string, TcpDestinationAddress?> _addresses = new();
    private readonly ConcurrentDictionary<string, (IPAddress[] Addresses, long Expires)> _resolved = new(StringComparer.OrdinalIgnoreCase);

    public DestinationConnector(IProxyStateLookup proxyState, IDestinationHealthUpdater healthUpdater,
        IEnumerable<ILoadBalancingPolicy> policies, ILogger<DestinationConnector> logger)
    {
        _proxyState = proxyState;
        _healthUpdater = healthUpdater;
        _policies = new Dictionary<string, ILoadBalancingPolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var policy in policies)
        {
            _policies[policy.Name] = policy;
        }
        _logger = logger;
    }

    /// <summary>The route's cluster as YARP holds it now; null (logged once per route and cluster) when YARP has none.</summary>
    public ClusterState? FindCluster(TcpRouteConfig config)
    {
        if (!_proxyState.TryGetCluster(config.ClusterId, out var cluster))
        {
            // Once per route and cluster until it appears: every connection would repeat the same error otherwise.
            if (_missingClusters.TryAdd((config.RouteId, config.ClusterId), 0))
            {
                SockmapForwarderLog.ClusterNotFound(_logger, config.RouteId, config.ClusterId);
            }
            return null;
        }
        if (!_missingClusters.IsEmpty)
        {
            _missingClusters.TryRemove((config.RouteId, config.ClusterId), out _);
        }
        return cluster;
    }

    /// <summary>The cluster's load-balancing policy (PowerOfTwoChoices when it names none).</summary>
    public ILoadBalancingPolicy PolicyFor(ClusterState cluster)
    {
        var name = cluster.Model.Config.LoadBalancingPolicy is { Length: > 0 } n ? n : LoadBalancingPolicies.PowerOfTwoChoices;
        // YARP's validator rejects unknown names; belt and braces.
        return _policies.TryGetValue(name, out var policy) ? policy : _policies[LoadBalancingPolicies.PowerOfTwoChoices];
    }

    /// <summary>
    /// The HttpContext YARP's own policies are called with: they ignore it, so every connection shares this one. A custom
    /// policy may read it and gets <see cref="CreateContext"/>'s instead.
    /// </summary>
    public static HttpContext SharedContext => s_unusedContext;

    /// <summary>Whether <paramref name="policy"/> is one of YARP's own (which never read the HttpContext).</summary>
    public static bool IgnoresContext(ILoadBalancingPolicy policy)
        => s_builtInPolicies.Contains(policy.Name) && policy.GetType().Assembly == typeof(ILoadBalancingPolicy).Assembly;

    /// <summary>A context for a custom policy: the connection's id and addresses.</summary>
    public static HttpContext CreateContext(string connectionId, IPEndPoint? remote, IPEndPoint? local)
    {
        var context = new DefaultHttpContext();
        var connection = context.Connection;
        connection.Id = connectionId;
        if (remote is not null)
        {
            connection.RemoteIpAddress = remote.Address;
            connection.RemotePort = remote.Port;
        }
        if (local is not null)
        {
            connection.LocalIpAddress = local.Address;
            connection.LocalPort = local.Port;
        }
        return context;
    }

    /// <summary>
    /// The addresses to connect to for <paramref name="destination"/>: an address literal at once, a host name from the
    /// cache of recent lookups. False with <paramref name="resolving"/> set when a lookup must run first (call again when
    /// it completed); false with both null when the address is not <c>tcp://host:port</c>.
    /// </summary>
    public bool TryGetAddresses(DestinationState destination, out IPAddress[]? addresses, out int port, out Task? resolving)
    {
        addresses = null;
        resolving = null;
        port = 0;
        var text = destination.Model.Config.Address;
        if (text is null)
        {
            return false;
        }
        var parsed = _addresses.GetOrAdd(text, static a => TcpDestinationAddress.TryParse(a, out var p) ? p : null);
        if (parsed is null)
        {
            return false;
        }
        port = parsed.Port;
        if (parsed.Literal is { } literal)
        {
            addresses = literal;
            return true;
        }
        if (_resolved.TryGetValue(parsed.Host, out var cached) && cached.Expires > Environment.TickCount64)
        {
            addresses = cached.Addresses;
            return true;
        }
        resolving = ResolveAsync(parsed.Host);
        return false;
    }

    private async Task ResolveAsync(string host)
    {
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host).ConfigureAwait(false);
            _resolved[host] = (addresses, Environment.TickCount64 + (long)s_resolvedLifetime.TotalMilliseconds);
        }
        catch (System.Net.Sockets.SocketException)
        {
            _resolved[host] = ([], Environment.TickCount64 + (long)s_resolvedLifetime.TotalMilliseconds);
        }
    }

    /// <summary>A connect attempt to <paramref name="destination"/> failed: log, count, and mark it for passive health.</summary>
    public void ReportFailure(TcpRouteState route, TcpRouteConfig config, ClusterState cluster, DestinationState destination, string reason)
    {
        route.CountConnectFailure();
        SockmapForwarderLog.ConnectFailed(_logger, config.RouteId, destination.DestinationId, destination.Model.Config.Address ?? "", cluster.ClusterId, reason);
        var passive = cluster.Model.Config.HealthCheck?.Passive;
        if (passive?.Enabled == true)
        {
            _healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, passive.ReactivationPeriod ?? s_defaultReactivationPeriod);
        }
    }

    /// <summary>Every available destination was tried (or none was available).</summary>
    public void ReportNoDestination(TcpRouteConfig config, EndPoint? client, int tried)
        => SockmapForwarderLog.NoDestination(_logger, config.RouteId, config.ClusterId, client, tried);
}
