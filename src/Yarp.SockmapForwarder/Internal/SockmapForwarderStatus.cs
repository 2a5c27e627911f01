namespace Yarp.SockmapForwarder.Internal;

/// <summary>Snapshots of the routes' counters and the data path's state, for status pages.</summary>
internal sealed class SockmapForwarderStatus(TcpRouteTable routes, IDataPathInfo dataPath) : ISockmapForwarderStatus
{
    public IReadOnlyList<TcpRouteStatus> Routes => routes.Routes.Select(r =>
    {
        var config = r.Config;
        var path = r.LastPath.Length > 0 ? r.LastPath : config.Mode.ToString();
        return new TcpRouteStatus(r.RouteId, r.BoundEndPoint, path, r.LastPathReason, config.Cpu, r.Active, r.Total,
            r.BytesClientToBackend, r.BytesBackendToClient, dataPath.VerdictRunsPerCpu(r.Index));
    }).ToArray();

    public bool SockmapUsable => dataPath.SockmapAvailability.Usable;

    public string SockmapDetail => dataPath.SockmapAvailability.Detail;
}
