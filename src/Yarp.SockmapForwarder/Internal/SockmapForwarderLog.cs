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

    [LoggerMessage(103, LogLevel.Information, "The Listen of the TCP route '{RouteId}' changed from '{OldListen}' to '{NewListen}': the route now listens there; open connections continue.")]
    public static partial void RouteMoved(ILogger logger, string routeId, string oldListen, string newListen);

    [LoggerMessage(104, LogLevel.Information, "The TCP route '{RouteId}' was added by a configuration reload and listens on '{Listen}'.")]
    public static partial void RouteAdded(ILogger logger, string routeId, string listen);

    [LoggerMessage(105, LogLevel.Warning, "The TCP route '{RouteId}' was removed by a configuration reload. Its endpoint '{Listen}' stays bound and closes every new connection (restoring the route keeps the address); it is released when the application stops.")]
    public static partial void RouteRemoved(ILogger logger, string routeId, string listen);

    [LoggerMessage(106, LogLevel.Information, "TCP route '{RouteId}' listens on {EndPoint} with one socket per CPU loop ({Cpus}); new connections are placed by {Selector}.")]
    public static partial void RouteBound(ILogger logger, string routeId, string endPoint, string cpus, string selector);

    [LoggerMessage(107, LogLevel.Warning, "The '{Key}' setting ('{Urls}') is ignored by Kestrel once code-defined endpoints exist, and TCP routes add them. Declare HTTP endpoints in Kestrel:Endpoints or ConfigureKestrel.")]
    public static partial void UrlsIgnored(ILogger logger, string key, string urls);

    [LoggerMessage(108, LogLevel.Error, "The TCP route '{RouteId}' could not listen on '{Listen}'; it accepts no connection until the configuration changes or the application restarts.")]
    public static partial void BindFailed(ILogger logger, string routeId, string listen, Exception exception);

    [LoggerMessage(109, LogLevel.Warning, "Could not pin the TCP route loop to CPU {Cpu}: {Error}; it runs unpinned.")]
    public static partial void LoopPinFailed(ILogger logger, int cpu, string error);

    [LoggerMessage(110, LogLevel.Error, "Unexpected exception on the TCP route loop of CPU {Cpu}.")]
    public static partial void LoopHandlerFailed(ILogger logger, int cpu, Exception exception);

    [LoggerMessage(111, LogLevel.Critical, "The TCP route loop of CPU {Cpu} stopped unexpectedly; its connections were reset.")]
    public static partial void LoopFailed(ILogger logger, int cpu, Exception exception);

    [LoggerMessage(112, LogLevel.Debug, "TCP route CPU selector: {State}.")]
    public static partial void SpillChanged(ILogger logger, string state);

    [LoggerMessage(113, LogLevel.Debug, "TCP route loops: moved {Count} relayed connections from CPU {Source} to CPU {Target} (the spill share rose).")]
    public static partial void ConnectionsMoved(ILogger logger, int count, int source, int target);

    [LoggerMessage(208, LogLevel.Warning, "TCP route '{RouteId}': accepting on CPU {Cpu} failed for lack of descriptors or memory ({Error}); new connections wait in the listen backlog, retried every {BackoffMs} ms.")]
    public static partial void AcceptPaused(ILogger logger, string routeId, int cpu, string error, int backoffMs);

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

    [LoggerMessage(207, LogLevel.Information, "{RouteId} {Client} -> {DestinationId} {DestinationAddress} path={Path} c2b={BytesClientToBackend} b2c={BytesBackendToClient} duration_ms={DurationMs:F1} reason={CloseReason}")]
    public static partial void AccessLog(ILogger logger, string routeId, EndPoint? client, string destinationId, string destinationAddress, string path,
        long bytesClientToBackend, long bytesBackendToClient, double durationMs, string closeReason);
}
