namespace Yarp.SockmapForwarder.DataPath.Sockmap;

/// <summary>
/// Per route, what the active sockmap connections hold outside socket accounting right now (their budget shares),
/// the largest such sum seen, and how many of them are parked (by the budget: "held back"). Sampled by the engine's
/// tick, read by status and metrics from any thread.
/// </summary>
internal sealed class KernelQueueSampler
{
    private const int SampleIntervalMs = 50;

    private readonly long[] _queued = new long[RouteIndexes.Count];
    private readonly long[] _peak = new long[RouteIndexes.Count];
    private readonly long[] _largest = new long[RouteIndexes.Count];
    private readonly int[] _parked = new int[RouteIndexes.Count];
    private readonly int[] _heldByBudget = new int[RouteIndexes.Count];
    private readonly long[] _sum = new long[RouteIndexes.Count];
    private readonly int[] _parkedSum = new int[RouteIndexes.Count];
    private readonly int[] _heldSum = new int[RouteIndexes.Count];
    private long _next;

    /// <summary>Engine thread: sums the active connections, at most every <see cref="SampleIntervalMs"/>.</summary>
    public void Sample(List<SockmapConnection> active, long now)
    {
        if (now < _next)
        {
            return;
        }
        _next = now + SampleIntervalMs;
        Array.Clear(_sum);
        Array.Clear(_parkedSum);
        Array.Clear(_heldSum);
        foreach (var c in active)
        {
            if (c.IsFinished || (uint)c.RouteIndex >= RouteIndexes.Count)
            {
                continue;
            }
            var q = c.QueueSnapshot();
            _sum[c.RouteIndex] += q.Queued;
            _parkedSum[c.RouteIndex] += q.Parked ? 1 : 0;
            _heldSum[c.RouteIndex] += q.HeldByBudget ? 1 : 0;
            if (q.LargestBacklog > _largest[c.RouteIndex])
            {
                Volatile.Write(ref _largest[c.RouteIndex], q.LargestBacklog);
            }
        }
        for (var r = 0; r < RouteIndexes.Count; r++)
        {
            Volatile.Write(ref _queued[r], _sum[r]);
            Volatile.Write(ref _parked[r], _parkedSum[r]);
            Volatile.Write(ref _heldByBudget[r], _heldSum[r]);
            if (_sum[r] > _peak[r])
            {
                Volatile.Write(ref _peak[r], _sum[r]);
            }
        }
    }

    /// <summary>
    /// The route's queued bytes now and at most (sums over its connections, sampled), the largest backlog one direction
    /// of an active connection has had (measured by the verdict, exact), and its parked and budget-held connections.
    /// </summary>
    public (long Queued, long Peak, long LargestBacklog, int Parked, int HeldByBudget) Read(int route)
        => (uint)route < RouteIndexes.Count
            ? (Volatile.Read(ref _queued[route]), Volatile.Read(ref _peak[route]), Volatile.Read(ref _largest[route]),
                Volatile.Read(ref _parked[route]), Volatile.Read(ref _heldByBudget[route]))
            : (0, 0, 0, 0, 0);

    /// <summary>A finished connection's largest backlog (its slots are reused: read it before they are).</summary>
    public void Finished(int route, long largestBacklog)
    {
        if ((uint)route < RouteIndexes.Count && largestBacklog > Volatile.Read(ref _largest[route]))
        {
            Volatile.Write(ref _largest[route], largestBacklog);
        }
    }
}
