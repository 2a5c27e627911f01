using Yarp.SockmapForwarder.DataPath.Steering;

namespace Yarp.SockmapForwarder.DataPath;

/// <summary>A route's data-path counters: in-kernel (BPF maps) plus user space, summed.</summary>
/// <param name="BytesClientToBackend">Bytes forwarded to the backend (both paths, early and parked bytes included).</param>
/// <param name="BytesBackendToClient">Bytes forwarded to the client.</param>
/// <param name="VerdictRunsPerCpu">Verdict program runs for this route per CPU (both directions).</param>
/// <param name="VerdictRunsPerCpuClientToBackend">Verdict runs per CPU for the client→backend direction.</param>
/// <param name="VerdictRunsPerCpuBackendToClient">Verdict runs per CPU for the backend→client direction.</param>
/// <param name="ParkedBytes">Bytes the verdict parked on the source socket (queue bound reached) and user space forwarded.</param>
/// <param name="SockmapConnections">Finished connections that ran on the sockmap path.</param>
/// <param name="UserSpaceConnections">Finished connections that ran on the user-space path.</param>
/// <param name="Path">The path the latest connection of the route was given; null before the first.</param>
/// <param name="PathReason">Why.</param>
internal sealed record DataPathRouteStats(
    long BytesClientToBackend, long BytesBackendToClient, IReadOnlyList<long> VerdictRunsPerCpu,
    IReadOnlyList<long> VerdictRunsPerCpuClientToBackend, IReadOnlyList<long> VerdictRunsPerCpuBackendToClient,
    long ParkedBytes, long SockmapConnections, long UserSpaceConnections, DataPathKind? Path, string PathReason)
{
    /// <summary>
    /// Verdict runs whose redirect the kernel refused because the peer socket had left the map (a connection being torn
    /// down): the segment was dropped. Expected to stay at or near zero; a growing count means bytes are being lost.
    /// </summary>
    public long RedirectFailures { get; init; }

    /// <summary>Bytes the route's sockmap connections hold outside socket accounting now (redirected, not yet in a send queue).</summary>
    public long KernelQueuedBytes { get; init; }

    /// <summary>The most <see cref="KernelQueuedBytes"/> seen at once.</summary>
    public long KernelQueuedPeakBytes { get; init; }

    /// <summary>
    /// The largest backlog one direction of one connection of the route has had (redirected, not yet in the peer's send
    /// queue), as the verdict measured it: the per-connection bound (MaxQueuedBytes) holds it, up to one segment.
    /// </summary>
    public long LargestBacklogBytes { get; init; }

    /// <summary>Sockmap connections with a direction parked now.</summary>
    public int ParkedConnections { get; init; }

    /// <summary>Sockmap connections parked now because the process budget is used up: the route is held back.</summary>
    public int HeldBackByBudget { get; init; }

    /// <summary>Parks of the route's finished sockmap connections, by reason.</summary>
    public TcpRouteParks Parks { get; init; } = TcpRouteParks.None;

    /// <summary>How the latest sockmap connection of the route was steered to the route CPU: "rfs" or "none: reason".</summary>
    public string Steering { get; init; } = SteeringDecision.NoConnectionYet.ToString();
}
