using System.Diagnostics;
using BpfSteer.Internal;
using BpfSteer.Testing;

namespace BpfSteer.Core.Tests;

/// <summary>
/// The CPU selectors' spill rule (<see cref="SpillPolicy"/>), alone and driven by a model of a closed loop on two CPUs, and
/// the idle clock that feeds it (<see cref="CpuIdleClock"/>) on this machine's real counters.
/// </summary>
public class SpillPolicyTests
{
    private static ReuseportSpillProgram.Spill Next(double share, int target, int source, params (int Cpu, double Idle)[] idle) =>
        SpillPolicy.Next(new(share, target), source, idle.ToDictionary(i => i.Cpu, i => i.Idle), receiving: false);

    [Fact]
    public void Next_SourceSaturatedOthersIdle_SpillsHalfTheIdleDifferenceToTheIdlestCpu()
    {
        var next = Next(0, 0, source: 0, (0, 0.02), (1, 0.30), (2, 0.50));
        Assert.Equal(new ReuseportSpillProgram.Spill(0.24, 2), next);
    }

    [Fact]
    public void Next_SourceSaturatedNearlyEven_MovesAtLeastOneStep()
    {
        Assert.Equal(new ReuseportSpillProgram.Spill(0.45, 1), Next(0.40, 1, source: 0, (0, 0.02), (1, 0.06)));
    }

    [Fact]
    public void Next_SourceReceivesASpill_DoesNotSpillBack()
    {
        // CPU 1 takes CPU 0's spill and has become the busier one: CPU 0's share shrinks; CPU 1 does not trade back.
        var idle = new Dictionary<int, double> { [0] = 0.08, [1] = 0.02 };
        Assert.Equal(0, SpillPolicy.Next(new(0, 1), 1, idle, receiving: true).Share);
        Assert.Equal(new ReuseportSpillProgram.Spill(0.55, 1), SpillPolicy.Next(new(0.60, 1), 0, idle, receiving: false));
    }

    [Fact]
    public void Next_SourceHasIdleTime_DoesNotSpill()
    {
        // One client on loopback: its CPU a quarter idle, the other two thirds: locality wins, nothing spills.
        Assert.Equal(0, Next(0, 0, source: 0, (0, 0.26), (1, 0.66)).Share);
    }

    [Fact]
    public void Next_BothSaturatedWithinTheDeadband_ShareHolds()
    {
        Assert.Equal(new ReuseportSpillProgram.Spill(0.40, 1), Next(0.40, 1, source: 0, (0, 0.05), (1, 0.07)));
        Assert.Equal(new ReuseportSpillProgram.Spill(0.40, 1), Next(0.40, 1, source: 0, (0, 0.07), (1, 0.05)));
    }

    [Fact]
    public void Next_SourceIdlerThanItsTarget_ShareShrinks()
    {
        // 16 clients under the old rule: the client's CPU 13% idle while the target, also running the backend, had 7%.
        Assert.Equal(new ReuseportSpillProgram.Spill(0.45, 1), Next(0.50, 1, source: 0, (0, 0.13), (1, 0.07)));
        Assert.Equal(new ReuseportSpillProgram.Spill(0.30, 1), Next(0.50, 1, source: 0, (0, 0.50), (1, 0.10))); // far off: faster
    }

    [Fact]
    public void Next_SourceRelaxed_ShareReturnsToLocalityStepByStep()
    {
        var spill = new ReuseportSpillProgram.Spill(0.10, 1);
        var idle = new Dictionary<int, double> { [0] = 0.50, [1] = 0.90 };
        spill = SpillPolicy.Next(spill, 0, idle, receiving: false);
        Assert.Equal(0.05, spill.Share);
        spill = SpillPolicy.Next(spill, 0, idle, receiving: false);
        Assert.Equal(0, spill.Share);
        Assert.Equal(0, SpillPolicy.Next(spill, 0, idle, receiving: false).Share);
    }

    [Fact]
    public void Next_AtTheMaximum_ShareStaysThere()
    {
        Assert.Equal(SpillPolicy.MaxShare, Next(SpillPolicy.MaxShare, 1, source: 0, (0, 0), (1, 0.80)).Share);
    }

    [Fact]
    public void Next_WhileSpilling_KeepsItsTargetEvenIfAnotherCpuIsIdler()
    {
        var next = Next(0.20, 1, source: 0, (0, 0.01), (1, 0.21), (2, 0.60));
        Assert.Equal(new ReuseportSpillProgram.Spill(0.30, 1), next); // half the room to its own target (0.20 / 2)
    }

    [Fact]
    public void Next_OneCpu_NeverSpills()
    {
        Assert.Equal(new ReuseportSpillProgram.Spill(0, 0), Next(0, 0, source: 0, (0, 0)));
    }

    /// <summary>
    /// A closed loop on loopback, per connection: the client costs <paramref name="client"/> on CPU 0, the backend
    /// <paramref name="backend"/> on CPU 1, the proxy <paramref name="proxy"/> on whichever CPU the selector chose
    /// (CPU 1 for the spilled share). Enough clients keep the busier CPU saturated, so the rate is set by it and
    /// the other CPU idles the rest. The best share equalises the two CPUs' work; from no spill, the policy must reach
    /// it (within one step) in ten periods and stay there.
    /// </summary>
    [Theory]
    [InlineData(0.5, 0.3, 0.5)] // the client heavier than the backend: most of the proxy's work moves (best 0.70)
    [InlineData(0.3, 0.6, 0.5)] // a heavy backend: little moves (best 0.20)
    [InlineData(0.2, 0.2, 0.5)] // equal ends: half (best 0.50)
    [InlineData(0.9, 0.1, 0.5)] // the best share (1.3) is past the maximum: the policy stops there
    public void Next_ClosedLoopModel_SettlesWhereNeitherCpuWaits(double client, double backend, double proxy)
    {
        var best = Math.Min(SpillPolicy.MaxShare, Math.Max(0, (client + proxy - backend) / (2 * proxy)));
        var spill = new ReuseportSpillProgram.Spill(0, 0);
        var shares = new List<double>();
        for (var period = 0; period < 100; period++)
        {
            var work0 = client + proxy * (1 - spill.Share);
            var work1 = backend + proxy * spill.Share;
            var rate = 1 / Math.Max(work0, work1);
            var idle = new Dictionary<int, double> { [0] = 1 - rate * work0, [1] = 1 - rate * work1 };
            spill = SpillPolicy.Next(spill, 0, idle, receiving: false);
            shares.Add(spill.Share);
            if (period == 9)
            {
                Assert.InRange(spill.Share, best - SpillPolicy.Step - 1e-9, best + SpillPolicy.Step + 1e-9); // a burst: 2 s
            }
        }
        // Within one step of the best share, once settled (after 50 periods: 10 s at 200 ms), and steady there.
        var settled = shares.Skip(50).ToArray();
        Assert.All(settled, s => Assert.InRange(s, best - SpillPolicy.Step - 1e-9, best + SpillPolicy.Step + 1e-9));
        Assert.True(settled.Max() - settled.Min() <= SpillPolicy.Step + 1e-9, $"share moved between {settled.Min()} and {settled.Max()}");
    }

    [Fact]
    public async Task TryRead_CpuSpinning_ThatCpuReadsBusyOnEitherSource()
    {
        var cpus = Enumerable.Range(0, Environment.ProcessorCount).ToArray();
        var hasCpuIdle = CpuIdleClock.Detect(cpus) == CpuIdleSource.CpuIdle;
        foreach (var source in new[] { CpuIdleSource.CpuIdle, CpuIdleSource.ProcStat })
        {
            var clock = new CpuIdleClock(cpus, source);
            var idle = new Dictionary<int, double>();
            var read = await PinnedThread.RunAsync(0, () =>
            {
                Assert.False(clock.TryRead(idle)); // the first read only starts the clock
                var watch = Stopwatch.StartNew();
                while (watch.ElapsedMilliseconds < 500)
                {
                }
                return clock.TryRead(idle);
            }).WaitAsync(TimeSpan.FromSeconds(30));
            if (source == CpuIdleSource.CpuIdle && !hasCpuIdle)
            {
                Assert.False(read); // a kernel without cpuidle: that source cannot read, and Detect does not choose it
                continue;
            }
            Assert.True(read, $"{source}: no reading");
            Assert.Equal(cpus.Length, idle.Count);
            Assert.All(idle.Values, v => Assert.InRange(v, 0, 1));
            Assert.InRange(idle[0], 0, 0.5); // a CPU running a spinning thread is not idle, whatever else runs
        }
    }
}
