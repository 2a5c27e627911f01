using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Internal;

/// <summary><see cref="IDataPathInfo"/> over the registered <see cref="DataPathForwarder"/>.</summary>
internal sealed class DataPathForwarderInfo(DataPathForwarder forwarder) : IDataPathInfo
{
    /// <summary>Probes, loads and self-tests the sockmap path on first use.</summary>
    public SockmapAvailability SockmapAvailability => new(forwarder.SockmapUsable, forwarder.SockmapDetail);

    public DataPathRouteStats GetRouteStats(int routeIndex) => forwarder.GetRouteStats(routeIndex);

    public KernelQueueStatus KernelQueue => forwarder.KernelQueue;
}
