using System.Net;
using Microsoft.Extensions.Logging;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>Every log message of the YARP integration, with stable event ids (1xx routes, 2xx connections, 3xx health).</summary>
internal static partial class SockmapForwarderLog
{
    /// <summary>The category of the access log (one line per connection), so it can be routed or filtered on its own.</summary>
    public const string AccessLogCategory = "Yarp.SockmapForwarder.AccessLog";

    [LoggerMessage(100, LogLevel.Information, "TCP route '{RouteId}' listens on '{Listen}' for the cluster '{ClusterId}' (mode {Mode}).")]
    public static partial void RouteListening(ILogger logger, string routeId, string listen, string clusterId, TcpForwarderMode mode);

    [LoggerMessage(101, LogLevel.Error, "The reloaded TCP route configuration was not applied; the previous settings stay in effect. {Errors}")]
    public static partial void ReloadRejected(ILogger logger, string errors);

    [LoggerMessage(102, LogLevel.Information, "TCP route '{RouteId}' settings updated by a configuration reload.")]
    public static partial void RouteUpdated(ILogger logger, string routeId);

    [LoggerMessage(103, LogLevel.Warning, "The Listen of the TCP route '{RouteId}' changed from '{OldListen}' to '{NewListen}'. Kestrel cannot move an endpoint of a running server: the route keeps listening on '{OldListen}' until the application restarts; its other settings apply now.")]
    public static partial void ListenChangeNeedsRestart(ILogger logger, string routeId, string oldListen, string newListen);

    [LoggerMessage(104, LogLevel.Warning, "The TCP route '{RouteId}' was added by a configuration reload. Kestrel cannot add an endpoint to a running server: the route starts listening on '{Listen}' when the application restarts.")]
    public static partial void RouteAddedNeedsRestart(ILogger logger, string routeId, string listen);

    [LoggerMessage(105, LogLevel.Warning, "The TCP route '{RouteId}' was removed by a configuration reload. Its endpoint '{Listen}' stays bound until the application restarts and closes every new connection.")]
    public static partial void RouteRemoved(ILogger logger, string routeId, string listen);

    [LoggerMessage(107, LogLevel.Warning, "The '{Key}' setting ('{Urls}') is ignored by Kestrel once code-defined endpoints exist, and TCP routes add them. Declare HTTP endpoints in Kestrel:Endpoints or ConfigureKestrel.")]
    public static partial void UrlsIgnored(ILogger logger, string key, string urls);

    [LoggerMessage(200, LogLevel.Warning, "TCP route '{RouteId}': connecting to the destination '{DestinationId}' ({Address}) of the cluster '{ClusterId}' failed: {Reason}")]
    public static partial void ConnectFailed(ILogger logger, string routeId, string destinationId, string address, string clusterId, string reason);

    [LoggerMessage(201, LogLevel.Warning, "TCP route '{RouteId}': no destination of the cluster '{ClusterId}' accepted the connection from {Client} ({Tried} tried); closing it.")]
    public static partial void NoDestination(ILogger logger, string routeId, string clusterId, EndPoint? client, int tried);

    [LoggerMessage(202, LogLevel.Error, "TCP route '{RouteId}': YARP has no cluster '{ClusterId}'. YARP loads its configuration in app.MapReverseProxy(): call it even when the application has no HTTP routes.")]
    public static partial void ClusterNotFound(ILogger logger, string routeId, string clusterId);

    [LoggerMessage(203, LogLevel.Warning, "TCP route '{RouteId}' holds its MaxConnections ({MaxConnections}); closing the connection from {Client}.")]
    public static partial void MaxConnectionsReached(ILogger logger, string routeId, int maxConnections, EndPoint? client);

    [LoggerMessage(204, LogLevel.Information, "TCP route '{RouteId}': the connection from {Client} sent the server name '{ServerName}', which matches no Sni entry; closing it.")]
    public static partial void SniRejected(ILogger logger, string routeId, EndPoint? client, string serverName);

    [LoggerMessage(205, LogLevel.Error, "TCP route '{RouteId}': forwarding the connection from {Client} failed unexpectedly.")]
    public static partial void ForwardingFailed(ILogger logger, string routeId, EndPoint? client, Exception exception);

    [LoggerMessage(206, LogLevel.Warning, "TCP route '{RouteId}': taking over the socket of the connection from {Client} failed; closing it.")]
    public static partial void HandoffFailed(ILogger logger, string routeId, EndPoint? client, Exception exception);

    [LoggerMessage(207, LogLevel.Information, "{RouteId} {Client} -> {DestinationId} {DestinationAddress} path={Path} c2b={BytesClientToBackend} b2c={BytesBackendToClient} duration_ms={DurationMs:F1} reason={CloseReason}")]
    public static partial void AccessLog(ILogger logger, string routeId, EndPoint? client, string destinationId, string destinationAddress, string path,
        long bytesClientToBackend, long bytesBackendToClient, double durationMs, string closeReason);
}
