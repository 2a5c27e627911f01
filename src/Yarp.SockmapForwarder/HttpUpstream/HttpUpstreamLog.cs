using Microsoft.Extensions.Logging;

namespace Yarp.SockmapForwarder.HttpUpstream;

/// <summary>Log messages of the per-worker HTTP upstream pools (event ids 5xx).</summary>
internal static partial class HttpUpstreamLog
{
    [LoggerMessage(500, LogLevel.Debug, "Cluster '{ClusterId}': HTTP client with {Mode}.", EventName = "UpstreamClientCreated")]
    public static partial void ClientCreated(ILogger logger, string clusterId, string mode);

    [LoggerMessage(501, LogLevel.Debug, "Cluster '{ClusterId}': upstream pool created on the worker of CPU {Cpu} (MaxConnectionsPerServer {Share}).", EventName = "UpstreamPoolCreated")]
    public static partial void PoolCreated(ILogger logger, string clusterId, int cpu, string share);

    [LoggerMessage(502, LogLevel.Information, "Per-worker upstream pools are off: the registered IForwarderHttpClientFactory ({FactoryType}) does not derive from YARP's ForwarderHttpClientFactory, so its clients are used as they are.", EventName = "UpstreamCustomFactory")]
    public static partial void CustomFactory(ILogger logger, string factoryType);

    [LoggerMessage(503, LogLevel.Information, "Cluster '{ClusterId}': the app's ConfigureHandler set its own ConnectCallback, which is kept: the cluster gets one pool per worker, but its sockets are not polled by the worker.", EventName = "UpstreamOwnConnectCallback")]
    public static partial void OwnConnectCallback(ILogger logger, string clusterId);
}
