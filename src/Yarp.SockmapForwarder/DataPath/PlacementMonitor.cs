using Yarp.SockmapForwarder.DataPath.Sockmap;

namespace Yarp.SockmapForwarder.DataPath;

/// <summary>
/// The Auto-mode placement rule (docs/design.md, "CPU affinity: the placement rule"). The verdict and the backlog
/// send run on the CPU that received each direction's packets; when both directions' work lands on one CPU, sockmap
/// competes there with both peers. So, per route: every second, the per-CPU verdict runs of both directions since
/// the last look are compared; when at least 90% of each direction's runs were on the same single CPU (and there
/// were enough runs to judge), new connections of the route use the user-space path for
/// <see cref="SockmapForwarderOptions.PlacementHold"/>, after which sockmap is tried again and re-measured. A process
/// with one usable CPU is judged like any other: with the queue bound, sockmap measured faster than user space there.
/// </summary>
internal sealed class PlacementMonitor
{
    private const int MinRuns = 256;
    private const double SameCpuShare = 0.9;
    private static readonly TimeSpan EvaluateEvery = TimeSpan.FromSeconds(1);

    private readonly SockmapEngine _engine;
    private readonly int _route;
    private readonly TimeSpan _hold;
    private long[] _last0 = [];
    private long[] _last1 = [];
    private long _nextEvaluation;
    private long _userSpaceUntil;
    private string _reason = "";

    public PlacementMonitor(SockmapEngine engine, int route, TimeSpan hold)
    {
        _engine = engine;
        _route = route;
        _hold = hold;
    }

    /// <summary>
    /// The route CPU when RFS steering is on for the route: verdicts of both directions on that CPU are then the
    /// steering working (the proxy's work moved off the peers' CPUs), not a shared-CPU placement.
    /// </summary>
    public int? SteeredCpu { get; set; }

    /// <summary>Null when sockmap is fine for this placement, else why user space is better now.</summary>
    public string? UserSpaceReason(long now)
    {
        lock (this)
        {
            if (now >= _nextEvaluation)
            {
                _nextEvaluation = now + (long)EvaluateEvery.TotalMilliseconds;
                Evaluate(now);
            }
            return now < Volatile.Read(ref _userSpaceUntil) ? _reason : null;
        }
    }

    /// <summary>Forces an evaluation now (tests, status pages).</summary>
    public void EvaluateNow(long now)
    {
        lock (this)
        {
            Evaluate(now);
        }
    }

    private void Evaluate(long now)
    {
        var stats = _engine.ReadRoute(_route);
        var d0 = Delta(stats.VerdictsClientToBackend, ref _last0);
        var d1 = Delta(stats.VerdictsBackendToClient, ref _last1);
        var (cpu0, share0, runs0) = Top(d0);
        var (cpu1, share1, runs1) = Top(d1);
        if (runs0 >= MinRuns && runs1 >= MinRuns && cpu0 == cpu1 && share0 >= SameCpuShare && share1 >= SameCpuShare && cpu0 != SteeredCpu)
        {
            _reason = $"placement: {share0:P0} of client→backend and {share1:P0} of backend→client verdict runs were on CPU {cpu0}; " +
                "sockmap is slower than user space when both directions share one CPU, because the kernel's forwarding " +
                "work then competes with both peers there";
            Volatile.Write(ref _userSpaceUntil, now + (long)_hold.TotalMilliseconds);
        }
    }

    private static long[] Delta(long[] current, ref long[] last)
    {
        var delta = new long[current.Length];
        for (var i = 0; i < current.Length; i++)
        {
            delta[i] = current[i] - (i < last.Length ? last[i] : 0);
        }
        last = current;
        return delta;
    }

    private static (int Cpu, double Share, long Runs) Top(long[] perCpu)
    {
        long total = 0, best = -1;
        var cpu = -1;
        for (var i = 0; i < perCpu.Length; i++)
        {
            total += perCpu[i];
            if (perCpu[i] > best)
            {
                best = perCpu[i];
                cpu = i;
            }
        }
        return total == 0 ? (-1, 0, 0) : (cpu, (double)best / total, total);
    }
}
