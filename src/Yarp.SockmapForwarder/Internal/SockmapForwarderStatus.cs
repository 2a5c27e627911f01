using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>Snapshots of the routes' counters and the data path's state, for status pages.</summary>
internal sealed class SockmapForwarderStatus(TcpRouteTable routes, IDataPathInfo dataPath, TcpRouteListeners listeners) : ISockmapForwarderStatus
{
    public IReadOnlyList<TcpRouteStatus> Routes => routes.Routes.Select(r =>
    {
        var config = r.Config;
        var stats = dataPath.GetRouteStats(r.Index);
        // The path the latest connection took; before the first one, the configured mode (Auto included).
        var mode = stats.Path switch
        {
            DataPathKind.Sockmap => TcpForwarderMode.Sockmap,
            DataPathKind.UserSpace => TcpForwarderMode.UserSpace,
            _ => config.Mode,
        };
        return new TcpRouteStatus(r.RouteId, r.BoundEndPoint, mode, stats.PathReason, config.Cpu, r.Active, r.Total,
            stats.BytesClientToBackend, stats.BytesBackendToClient, stats.VerdictRunsPerCpu)
        {
            Steering = stats.Steering,
            KernelQueuedBytes = stats.KernelQueuedBytes,
            KernelQueuedPeakBytes = stats.KernelQueuedPeakBytes,
            LargestBacklogBytes = stats.LargestBacklogBytes,
            ParkedConnections = stats.ParkedConnections,
            HeldBackByBudget = stats.HeldBackByBudget,
            Parks = stats.Parks,
        };
    }).ToArray();

    public bool SockmapUsable => dataPath.SockmapAvailability.Usable;

    public string SockmapDetail => dataPath.SockmapAvailability.Detail;

    public KernelQueueStatus KernelQueue => dataPath.KernelQueue;

    public IReadOnlyList<TcpRouteLoopStatus> Loops => listeners.Loops.OrderBy(l => l.Cpu)
        .Select(l => new TcpRouteLoopStatus(l.Cpu, l.ConnectionCount, l.IdleSpinHits, l.IdleSleeps, l.MovedOut)).ToArray();
}
