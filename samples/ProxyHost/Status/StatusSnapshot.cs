using BpfSteer;

namespace ProxyHost.Status;

/// <summary>
/// The document served at <c>GET /bpfsteer/status</c>. Field names and meanings are a contract read by scripts
/// (documented in README.md, "Status contract"); add fields, never rename or remove them.
/// </summary>
internal sealed record StatusSnapshot(
    DateTimeOffset Timestamp,
    StatusSnapshot.TransportDto? Transport,
    IReadOnlyList<StatusSnapshot.RouteDto> Routes,
    IReadOnlyList<KernelFeature> Kernel,
    StatusSnapshot.ForwarderDto? Forwarder)
{
    /// <summary>Version of the contract; bumped only for a breaking change (which the README forbids).</summary>
    public const int ContractVersion = 1;

    /// <summary>The BpfSteer transport; null when Kestrel runs on another transport.</summary>
    internal sealed record TransportDto(string Selector, string SelectorDetail, IReadOnlyList<string> Endpoints, IReadOnlyList<WorkerDto> Workers);

    internal sealed record WorkerDto(int Cpu, long Accepted, long IncomingCpuMatched, long ActiveConnections, long AcceptResourceFailures, long AcceptPauses, double SpillShare, int? SpillTargetCpu,
        long IdleSpinHits, long IdleSleeps);

    /// <summary>A TCP passthrough route. <c>Mode</c> is "Sockmap" or "UserSpace"; <c>Cpu</c> is the requested CPU or null.</summary>
    internal sealed record RouteDto(
        string Id, string Listen, string Mode, string ModeReason, int? Cpu, long ActiveConnections, long TotalConnections,
        long BytesClientToBackend, long BytesBackendToClient, IReadOnlyList<long> VerdictRunsPerCpu, RouteQueueDto KernelQueue);

    /// <summary>
    /// What a route's sockmap connections hold outside socket accounting (bytes now and at most; the largest backlog of
    /// one direction), how many are parked now and how many of those the process budget holds back, and parks by reason.
    /// </summary>
    internal sealed record RouteQueueDto(long Bytes, long PeakBytes, long LargestBacklogBytes, int ParkedConnections, int HeldBackByBudget, TcpRouteParksDto Parks);

    internal sealed record TcpRouteParksDto(long HighMark, long Budget, long PeerFull, long Resumed);

    /// <summary>The sockmap forwarder as a whole; null when AddSockmapForwarder() was not called.</summary>
    internal sealed record ForwarderDto(bool SockmapUsable, string SockmapDetail, KernelQueueDto KernelQueue, IReadOnlyList<RouteLoopDto> Loops);

    /// <summary>One CPU's TCP route loop: connections it holds, and how its idle moments ended (spin hits, sleeps).</summary>
    internal sealed record RouteLoopDto(int Cpu, int Connections, long IdleSpinHits, long IdleSleeps, long MovedOut);

    /// <summary>The process budget of memory held outside socket accounting: in use, at most, the budget, budget parks.</summary>
    internal sealed record KernelQueueDto(long UsedBytes, long PeakBytes, long BudgetBytes, long BudgetParks);
}
