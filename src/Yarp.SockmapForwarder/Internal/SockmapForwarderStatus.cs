namespace Yarp.SockmapForwarder.Internal;

/// <summary>Snapshots of the routes' counters and the data path's state, for status pages.</summary>
internal sealed class SockmapForwarderStatus(TcpRouteTable routes, IDataPathInfo dataPath) : ISockmapForwarderStatus
{
    public IReadOnlyList<TcpRouteStatus> Routes => routes.Routes.Select(r =>
    {
        var config = r.Config;
        var stats = dataPath.GetRouteStats(r.Index);
        var path = stats.Path.Length > 0 ? stats.Path : config.Mode.ToString();
        return new TcpRouteStatus(r.RouteId, r.BoundEndPoint, path, stats.PathReason, config.Cpu, r.Active, r.Total,
            stats.BytesClientToBackend, stats.BytesBackendToClient, stats.VerdictRunsPerCpu) { Steering = stats.Steering };
    }).ToArray();

    public bool SockmapUsable => dataPath.SockmapAvailability.Usable;

    public string SockmapDetail => dataPath.SockmapAvailability.Detail;
}
