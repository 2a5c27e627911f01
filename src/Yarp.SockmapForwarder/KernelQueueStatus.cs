namespace Yarp.SockmapForwarder;

/// <summary>
/// The process-wide bound on the memory the sockmap path holds outside any socket's accounting: bytes redirected to a
/// peer socket but not yet taken into its send queue (the kernel's psock backlog, which neither <c>tcp_mem</c> nor
/// memcg sees). See <see cref="SockmapForwarderOptions.KernelQueueBudget"/>.
/// </summary>
/// <param name="UsedBytes">Bytes held now, summed over every connection and direction.</param>
/// <param name="PeakBytes">The most ever held at once since start.</param>
/// <param name="BudgetBytes">The budget: while it is used up, every direction's new bytes are parked, never dropped.</param>
/// <param name="BudgetParks">Times a direction started to park because the budget was used up.</param>
public sealed record KernelQueueStatus(long UsedBytes, long PeakBytes, long BudgetBytes, long BudgetParks);

/// <summary>Why, and how often, a route's connections parked (their new bytes waited on the source socket).</summary>
/// <param name="HighMark">The direction's own backlog reached the route's <c>MaxQueuedBytes</c>.</param>
/// <param name="Budget">The process-wide <see cref="KernelQueueStatus.BudgetBytes"/> was used up.</param>
/// <param name="PeerFull">The destination's send buffer could not take the backlog (a slow reader).</param>
/// <param name="Resumed">Parks that user space ended so the kernel path took over again.</param>
public sealed record TcpRouteParks(long HighMark, long Budget, long PeerFull, long Resumed)
{
    /// <summary>No park yet.</summary>
    public static readonly TcpRouteParks None = new(0, 0, 0, 0);
}
