using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>What the integration reads from the data path for validation, status and metrics.</summary>
internal interface IDataPathInfo
{
    /// <summary>Whether this process can use the sockmap path (a route with Mode=Sockmap fails validation otherwise).</summary>
    SockmapAvailability SockmapAvailability { get; }

    /// <summary>A route's live counters: BPF per-route map (in-kernel bytes, verdict runs per CPU) plus user-space bytes.</summary>
    DataPathRouteStats GetRouteStats(int routeIndex);

    /// <summary>The process budget of memory the sockmap path holds outside socket accounting.</summary>
    KernelQueueStatus KernelQueue { get; }
}
