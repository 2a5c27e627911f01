using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Picks a destination of the route's cluster the way YARP does for HTTP (health-filtered available destinations, the
/// cluster's load-balancing policy) and connects to it with the route's ConnectTimeout. A failed destination is reported
/// to passive health (when the cluster enables it) and the next one is tried, until every available one was tried.
/// </summary>
internal sealed class DestinationConnector
{
    /// <summary>YARP's passive policy default reactivation period, used when the cluster sets none.</summary>
    private static readonly TimeSpan s_defaultReactivationPeriod = TimeSpan.FromSeconds(60);

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
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string RouteId, string ClusterId), byte> _missingClusters = new();

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

    /// <summary>Connects to a destination; null when the cluster is missing or no destination accepted.</summary>
    public async Task<ConnectedDestination?> ConnectAsync(TcpRouteState route, TcpRouteConfig config, ConnectionContext client, CancellationToken cancellationToken)
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
        _missingClusters.TryRemove((config.RouteId, config.ClusterId), out _);
        var available = cluster.DestinationsState.AvailableDestinations;
        var policyName = cluster.Model.Config.LoadBalancingPolicy is { Length: > 0 } name ? name : LoadBalancingPolicies.PowerOfTwoChoices;
        if (!_policies.TryGetValue(policyName, out var policy))
        {
            policy = _policies[LoadBalancingPolicies.PowerOfTwoChoices]; // YARP's validator rejects unknown names; belt and braces
        }
        // YARP's policies ignore the HttpContext; a custom one may read it, so it gets the connection's addresses.
        var context = s_builtInPolicies.Contains(policy.Name) && policy.GetType().Assembly == typeof(ILoadBalancingPolicy).Assembly
            ? s_unusedContext
            : CreateContext(client);
        IReadOnlyList<DestinationState> candidates = available;
        List<DestinationState>? remaining = null;
        var tried = 0;
        while (candidates.Count > 0)
        {
            var destination = candidates.Count == 1 ? candidates[0] : policy.PickDestination(context, cluster, candidates);
            if (destination is null)
            {
                break;
            }
            tried++;
            var socket = await TryConnectAsync(route, config, cluster, destination, cancellationToken);
            if (socket is not null)
            {
                return new ConnectedDestination(socket, cluster, destination);
            }
            remaining ??= [.. candidates];
            remaining.Remove(destination);
            candidates = remaining;
        }
        SockmapForwarderLog.NoDestination(_logger, config.RouteId, config.ClusterId, client.RemoteEndPoint, tried);
        return null;
    }

    private async Task<Socket?> TryConnectAsync(TcpRouteState route, TcpRouteConfig config, ClusterState cluster, DestinationState destination, CancellationToken cancellationToken)
    {
        var address = destination.Model.Config.Address;
        if (!TcpDestinationAddress.TryParse(address, out var tcpAddress))
        {
            // Validation refuses this at load; a cluster can still change under a running route.
            Fail("the address is not tcp://host:port");
            return null;
        }
        var endPoint = tcpAddress.ToEndPoint();
        var socket = endPoint.AddressFamily == AddressFamily.Unspecified
            ? new Socket(SocketType.Stream, ProtocolType.Tcp)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(config.ConnectTimeout);
        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(endPoint, timeout.Token);
            return socket;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            if (cancellationToken.IsCancellationRequested)
            {
                return null; // the server is stopping: not the destination's fault
            }
            Fail(ex is SocketException se ? se.SocketErrorCode + ": " + se.Message : $"no answer within the ConnectTimeout ({config.ConnectTimeout})");
            return null;
        }

        void Fail(string reason)
        {
            route.CountConnectFailure();
            SockmapForwarderLog.ConnectFailed(_logger, config.RouteId, destination.DestinationId, address ?? "", cluster.ClusterId, reason);
            var passive = cluster.Model.Config.HealthCheck?.Passive;
            if (passive?.Enabled == true)
            {
                _healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, passive.ReactivationPeriod ?? s_defaultReactivationPeriod);
            }
        }
    }

    private static DefaultHttpContext CreateContext(ConnectionContext client)
    {
        var context = new DefaultHttpContext();
        var connection = context.Connection;
        connection.Id = client.ConnectionId;
        if (client.RemoteEndPoint is System.Net.IPEndPoint remote)
        {
            connection.RemoteIpAddress = remote.Address;
            connection.RemotePort = remote.Port;
        }
        if (client.LocalEndPoint is System.Net.IPEndPoint local)
        {
            connection.LocalIpAddress = local.Address;
            connection.LocalPort = local.Port;
        }
        return context;
    }
}
