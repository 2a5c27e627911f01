namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>Route settings for tests that drive the data path directly (it does not read Listen or ClusterId).</summary>
internal static class TestRoutes
{
    public static TcpRouteConfig Config(string routeId, TcpForwarderMode mode, TimeSpan idleTimeout, long maxQueuedBytes)
        => new()
        {
            RouteId = routeId, Listen = "127.0.0.1:0", ClusterId = "c", Mode = mode, IdleTimeout = idleTimeout,
            MaxQueuedBytes = maxQueuedBytes,
        };
}
