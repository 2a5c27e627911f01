namespace Yarp.SockmapForwarder;

/// <summary>
/// Live state of the TCP passthrough routes, registered in DI by <c>AddSockmapForwarder()</c>; read by status pages and
/// health checks. Values are snapshots taken at the time of the call (byte counters come from the BPF maps).
/// </summary>
public interface ISockmapForwarderStatus
{
    /// <summary>One entry per configured TCP route.</summary>
    IReadOnlyList<TcpRouteStatus> Routes { get; }

    /// <summary>Whether the sockmap data path can be used in this process, and why not when it cannot.</summary>
    bool SockmapUsable { get; }

    /// <summary>The reason behind <see cref="SockmapUsable"/> (probe result or self-test failure).</summary>
    string SockmapDetail { get; }

    /// <summary>The process-wide budget of memory the sockmap path holds outside socket accounting, and its use.</summary>
    KernelQueueStatus KernelQueue { get; }

    /// <summary>The TCP route loops started so far (one per CPU, shared by every route), in CPU order.</summary>
    IReadOnlyList<TcpRouteLoopStatus> Loops { get; }
}

/// <summary>One CPU's TCP route loop.</summary>
/// <param name="Cpu">The CPU the loop's thread is pinned to.</param>
/// <param name="Connections">Connections the loop holds now (those handed to the sockmap path are not counted).</param>
/// <param name="IdleSpinHits">
/// Times the loop ran out of events and found new work while it kept polling (<see cref="SockmapForwarderOptions.IdleSpin"/>),
/// so its thread did not have to be woken; 0 with the spin off.
/// </param>
/// <param name="IdleSleeps">Times the loop ran out of events, polled for the whole spin and then slept; 0 with the spin off.</param>
/// <param name="MovedOut">
/// Relayed connections this loop moved to another CPU's loop because the balancer found its CPU saturated while the other
/// waited (the connections' bytes are not touched by a move); 0 with one loop.
/// </param>
public sealed record TcpRouteLoopStatus(int Cpu, int Connections, long IdleSpinHits, long IdleSleeps, long MovedOut);

/// <summary>A TCP route's state.</summary>
/// <param name="Id">The route id from configuration.</param>
/// <param name="Listen">The listen endpoint, e.g. "127.0.0.1:6380".</param>
/// <param name="Mode">
/// The data path of the route's latest connection (<see cref="TcpForwarderMode.Sockmap"/> or
/// <see cref="TcpForwarderMode.UserSpace"/>); before the first connection, the configured mode.
/// </param>
/// <param name="ModeReason">Why that mode was chosen.</param>
/// <param name="Cpu">The requested CPU, or null when the route has no affinity.</param>
/// <param name="ActiveConnections">Connections open now.</param>
/// <param name="TotalConnections">Connections since start.</param>
/// <param name="BytesClientToBackend">Bytes forwarded client to backend (both paths).</param>
/// <param name="BytesBackendToClient">Bytes forwarded backend to client (both paths).</param>
/// <param name="VerdictRunsPerCpu">Verdict program runs for this route, indexed by CPU.</param>
public sealed record TcpRouteStatus(
    string Id, string Listen, TcpForwarderMode Mode, string ModeReason, int? Cpu, long ActiveConnections, long TotalConnections,
    long BytesClientToBackend, long BytesBackendToClient, IReadOnlyList<long> VerdictRunsPerCpu)
{
    /// <summary>
    /// How the route's latest sockmap connection was steered to <see cref="Cpu"/> on a kernel without the
    /// redirect-CPU kfunc: "rfs" (Receive Flow Steering) or "none: reason". Compare with <see cref="VerdictRunsPerCpu"/>.
    /// </summary>
    public string Steering { get; init; } = "none";

    /// <summary>Bytes the route's sockmap connections hold outside socket accounting now (see <see cref="KernelQueueStatus"/>).</summary>
    public long KernelQueuedBytes { get; init; }

    /// <summary>The most <see cref="KernelQueuedBytes"/> seen at once since start.</summary>
    public long KernelQueuedPeakBytes { get; init; }

    /// <summary>The largest backlog one direction of one connection has had; <c>MaxQueuedBytes</c> bounds it, up to one segment.</summary>
    public long LargestBacklogBytes { get; init; }

    /// <summary>Connections with a direction parked now (their new bytes wait on the source socket).</summary>
    public int ParkedConnections { get; init; }

    /// <summary>Connections parked now because the process budget is used up: non-zero means the route is held back.</summary>
    public int HeldBackByBudget { get; init; }

    /// <summary>Parks of the route's finished connections, by reason.</summary>
    public TcpRouteParks Parks { get; init; } = TcpRouteParks.None;
}
