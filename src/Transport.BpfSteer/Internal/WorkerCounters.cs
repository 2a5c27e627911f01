namespace BpfSteer.Transport.Internal;

/// <summary>
/// Locality counters of the worker on one CPU. Written by that worker's thread only, read by status and metrics;
/// they outlive worker restarts (a rebind keeps counting).
/// </summary>
internal sealed class WorkerCounters(int cpu)
{
    private long _accepted;
    private long _incomingCpuMatched;
    private long _active;
    private long _acceptResourceFailures;
    private long _acceptPauses;
    private long _blockedEpisodes;
    private long _idleSpinHits;
    private long _idleSleeps;

    public int Cpu { get; } = cpu;

    /// <summary>Upstream sockets other components run for this worker's connections (per-worker HTTP pools).</summary>
    public WorkerIoCounters Upstream { get; } = new();

    public long Accepted => Volatile.Read(ref _accepted);

    public long IncomingCpuMatched => Volatile.Read(ref _incomingCpuMatched);

    public long ActiveConnections => Volatile.Read(ref _active);

    /// <summary>accept4 calls that failed for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM).</summary>
    public long AcceptResourceFailures => Volatile.Read(ref _acceptResourceFailures);

    /// <summary>Episodes of such failures: a run of failures ended by a successful accept counts once.</summary>
    public long AcceptPauses => Volatile.Read(ref _acceptPauses);

    /// <summary>Times the worker was found stuck in one callback for a second or more (<see cref="WorkerWatchdog"/>).</summary>
    public long BlockedEpisodes => Volatile.Read(ref _blockedEpisodes);

    /// <summary>Idle moments the worker's spin ended by finding work (<see cref="BpfSteerTransportOptions.IdleSpin"/>).</summary>
    public long IdleSpinHits => Volatile.Read(ref _idleSpinHits);

    /// <summary>Idle moments after which the worker slept in epoll_wait (the spin ran out).</summary>
    public long IdleSleeps => Volatile.Read(ref _idleSleeps);

    public void OnIdleEnded(bool slept) => Interlocked.Increment(ref slept ? ref _idleSleeps : ref _idleSpinHits);

    public void OnBlocked() => Interlocked.Increment(ref _blockedEpisodes);

    public void OnAcceptResourceFailure(bool episodeStarts)
    {
        Interlocked.Increment(ref _acceptResourceFailures);
        if (episodeStarts)
        {
            Interlocked.Increment(ref _acceptPauses);
        }
    }

    public void OnAccepted(bool incomingCpuMatched)
    {
        Interlocked.Increment(ref _accepted);
        if (incomingCpuMatched)
        {
            Interlocked.Increment(ref _incomingCpuMatched);
        }
        Interlocked.Increment(ref _active);
    }

    public void OnClosed() => Interlocked.Decrement(ref _active);

    public BpfSteerWorkerStatus Snapshot() => new(Cpu, Accepted, IncomingCpuMatched, ActiveConnections)
    {
        AcceptResourceFailures = AcceptResourceFailures,
        AcceptPauses = AcceptPauses,
        BlockedEpisodes = BlockedEpisodes,
        IdleSpinHits = IdleSpinHits,
        IdleSleeps = IdleSleeps,
        UpstreamOperations = Upstream.Operations,
        UpstreamOperationsOnWorkerCpu = Upstream.OnWorkerCpu,
        UpstreamConnectionsOpened = Upstream.ConnectionsOpened,
        UpstreamOpenConnections = Upstream.OpenConnections,
    };
}
