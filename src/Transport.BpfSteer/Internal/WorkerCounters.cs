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

    public int Cpu { get; } = cpu;

    public long Accepted => Volatile.Read(ref _accepted);

    public long IncomingCpuMatched => Volatile.Read(ref _incomingCpuMatched);

    public long ActiveConnections => Volatile.Read(ref _active);

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

    public BpfSteerWorkerStatus Snapshot() => new(Cpu, Accepted, IncomingCpuMatched, ActiveConnections);
}
