namespace BpfSteer.Internal;

/// <summary>
/// The spill rule of the CPU selectors, a pure function of each CPU's idle share (smoothed by <see cref="ReuseportBalancer"/>): a
/// CPU that has almost no idle time left spills a growing share of its new connections to the CPU with the most idle
/// time, while that CPU has more idle time than it; the share shrinks again once the target has less idle time than
/// the source (it spilled too much), or once the source has plenty of room. The share moves by half the idle
/// difference (at least <see cref="Step"/>), so a burst reaches its share within a second and a steady load holds it. The aim is the least idle time on either
/// CPU, not equal load: on loopback the client shares the receiving CPU and takes whatever time the proxy leaves, so
/// that CPU always reads busy, and only idle time says which CPU is waiting for the other.
/// </summary>
internal static class SpillPolicy
{
    /// <summary>A CPU with at most this idle share may spill.</summary>
    public const double Saturated = 0.15;

    /// <summary>A source with at least this idle share takes its spill back (slowly: one step a period).</summary>
    public const double Relaxed = 0.40;

    /// <summary>The idle difference between target and source that moves the share (smaller ones hold it).</summary>
    public const double Deadband = 0.03;

    /// <summary>The least the share moves in a period when it moves.</summary>
    public const double Step = 0.05;

    /// <summary>Beyond <see cref="Step"/>, the share moves by this fraction of the idle difference (fast when far off).</summary>
    public const double Gain = 0.5;

    /// <summary>The largest share of a CPU's connections that go elsewhere: the rest keep locality.</summary>
    public const double MaxShare = 0.90;

    /// <summary>
    /// The next spill of CPU <paramref name="source"/>: its current target while it spills, else the other CPU with the
    /// most idle time.
    /// </summary>
    /// <param name="current">The source's spill now (Share 0: none).</param>
    /// <param name="source">The CPU whose connections may spill.</param>
    /// <param name="idle">Every balanced CPU's idle share (0..1), including the source's.</param>
    /// <param name="receiving">Whether another CPU spills to the source now: then the source does not start spilling
    /// back (two CPUs trading connections only adds cross-CPU work); the other CPU's share shrinks instead.</param>
    public static ReuseportSpillProgram.Spill Next(ReuseportSpillProgram.Spill current, int source, IReadOnlyDictionary<int, double> idle, bool receiving)
    {
        var target = current.Share > 0 && idle.ContainsKey(current.Target) ? current.Target : Idlest(source, idle);
        if (target == source)
        {
            return new(0, source); // nowhere to spill to
        }
        var room = idle[target] - idle[source]; // > 0: the target waits for work more than the source does
        var share = current.Share;
        var move = Math.Max(Step, Gain * Math.Abs(room));
        if (idle[source] <= Saturated && room >= Deadband && !receiving)
        {
            share = Math.Min(MaxShare, share + move);
        }
        else if (share > 0 && room <= -Deadband)
        {
            share = Math.Max(0, share - move);
        }
        else if (share > 0 && idle[source] >= Relaxed)
        {
            share = Math.Max(0, share - Step);
        }
        return new(Math.Round(share, 2), target);
    }

    private static int Idlest(int source, IReadOnlyDictionary<int, double> idle)
    {
        var best = source;
        var most = double.NegativeInfinity;
        foreach (var (cpu, share) in idle)
        {
            if (cpu != source && share > most)
            {
                (best, most) = (cpu, share);
            }
        }
        return best;
    }
}
