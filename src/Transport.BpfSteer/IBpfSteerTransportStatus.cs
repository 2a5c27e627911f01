namespace BpfSteer.Transport;

/// <summary>
/// Live state of the BpfSteer transport, registered in DI by <c>UseBpfSteeredTransport()</c>; read by status pages
/// and health checks. Values are snapshots taken at the time of the call.
/// </summary>
public interface IBpfSteerTransportStatus
{
    /// <summary>One entry per worker, in group (listen) order.</summary>
    IReadOnlyList<BpfSteerWorkerStatus> Workers { get; }

    /// <summary>
    /// Which selector is attached to the reuseport groups: the configured one, or <see cref="ReuseportSelector.None"/>
    /// when none is (not bound yet, a fallback, or the cBPF program detached after a worker failed).
    /// </summary>
    ReuseportSelector Selector { get; }

    /// <summary>Why the selector is what it is (e.g. the attach error that caused a fallback).</summary>
    string SelectorDetail { get; }

    /// <summary>The endpoints currently bound, as strings (e.g. "127.0.0.1:5000").</summary>
    IReadOnlyList<string> Endpoints { get; }
}

/// <summary>A worker's counters.</summary>
/// <param name="Cpu">The CPU the worker thread is pinned to.</param>
/// <param name="Accepted">Connections accepted since start.</param>
/// <param name="IncomingCpuMatched">Accepted connections whose SO_INCOMING_CPU equalled <paramref name="Cpu"/>.</param>
/// <param name="ActiveConnections">Connections currently open on this worker.</param>
public sealed record BpfSteerWorkerStatus(int Cpu, long Accepted, long IncomingCpuMatched, long ActiveConnections)
{
    /// <summary>
    /// accept4 calls that failed for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM). While such a
    /// failure lasts the worker retries every 100 ms, so this grows by about ten per second of exhaustion, not faster.
    /// </summary>
    public long AcceptResourceFailures { get; init; }

    /// <summary>Episodes of resource exhaustion (a run of failed accepts ended by a successful one counts once).</summary>
    public long AcceptPauses { get; init; }

    /// <summary>
    /// Times the worker was found stuck for a second or more in one callback — with ApplicationScheduling.Inline, most
    /// likely application code that blocks the thread (each episode is also logged, event 29 WorkerBlocked).
    /// </summary>
    public long BlockedEpisodes { get; init; }

    /// <summary>
    /// Times the worker ran out of events and found new work while it kept polling
    /// (<see cref="BpfSteerTransportOptions.IdleSpin"/>), so its thread did not have to be woken; 0 with the spin off.
    /// </summary>
    public long IdleSpinHits { get; init; }

    /// <summary>Times the worker ran out of events, polled for the whole <see cref="BpfSteerTransportOptions.IdleSpin"/> and then slept; 0 with the spin off.</summary>
    public long IdleSleeps { get; init; }

    /// <summary>
    /// Upstream socket reads and writes done for requests of this worker's connections (YARP's HTTP clients, with the
    /// YARP extension's per-worker pools on or off).
    /// </summary>
    public long UpstreamOperations { get; init; }

    /// <summary>
    /// Those of <see cref="UpstreamOperations"/> that ran on this worker's CPU. With per-worker pools every call runs on
    /// the worker that owns the connection, so the share is 1 unless a request borrowed another worker's pool.
    /// </summary>
    public long UpstreamOperationsOnWorkerCpu { get; init; }

    /// <summary>Upstream connections this worker's pools opened since start.</summary>
    public long UpstreamConnectionsOpened { get; init; }

    /// <summary>Upstream connections in this worker's pools now.</summary>
    public long UpstreamOpenConnections { get; init; }

    /// <summary>
    /// The share (0 to 0.9) of the new connections received on this worker's CPU that the selector currently sends to
    /// the worker on <see cref="SpillTargetCpu"/> instead (<see cref="BpfSteerTransportOptions.SpillOver"/>); 0 when none.
    /// </summary>
    public double SpillShare { get; init; }

    /// <summary>The CPU of the worker that receives <see cref="SpillShare"/>; null when the share is 0.</summary>
    public int? SpillTargetCpu { get; init; }

    /// <summary><see cref="UpstreamOperationsOnWorkerCpu"/> / <see cref="UpstreamOperations"/>, or null before any.</summary>
    public double? UpstreamLocality => UpstreamOperations == 0 ? null : (double)UpstreamOperationsOnWorkerCpu / UpstreamOperations;
}
