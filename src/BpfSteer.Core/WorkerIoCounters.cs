namespace BpfSteer;

/// <summary>
/// Locality of socket I/O done on behalf of one worker's connections: how many reads and writes there were and how many
/// ran on that worker's CPU. Safe to update from any thread (interlocked); values are running totals.
/// </summary>
public sealed class WorkerIoCounters
{
    private long _operations;
    private long _onWorkerCpu;
    private long _connectionsOpened;
    private long _openConnections;

    /// <summary>Reads and writes (socket calls that moved bytes or found the socket closed).</summary>
    public long Operations => Volatile.Read(ref _operations);

    /// <summary>Those of <see cref="Operations"/> that ran on the worker's CPU.</summary>
    public long OnWorkerCpu => Volatile.Read(ref _onWorkerCpu);

    /// <summary>Connections opened since start.</summary>
    public long ConnectionsOpened => Volatile.Read(ref _connectionsOpened);

    /// <summary>Connections open now.</summary>
    public long OpenConnections => Volatile.Read(ref _openConnections);

    /// <summary>Counts one read or write; <paramref name="onWorkerCpu"/> says whether it ran on the worker's CPU.</summary>
    public void CountOperation(bool onWorkerCpu)
    {
        Interlocked.Increment(ref _operations);
        if (onWorkerCpu)
        {
            Interlocked.Increment(ref _onWorkerCpu);
        }
    }

    /// <summary>A connection was opened for this worker.</summary>
    public void OnConnectionOpened()
    {
        Interlocked.Increment(ref _connectionsOpened);
        Interlocked.Increment(ref _openConnections);
    }

    /// <summary>A connection counted by <see cref="OnConnectionOpened"/> was closed.</summary>
    public void OnConnectionClosed() => Interlocked.Decrement(ref _openConnections);
}
