using System.Net.Sockets;
using BpfSteer.Interop;

namespace BpfSteer.Internal;

/// <summary>
/// Keeps a CPU selector honest under load; used by the transport's listeners and by the TCP routes. The selector puts a
/// new connection on the worker (or route loop) of the CPU that received it: locality, no cross-CPU hop. When that CPU
/// has no idle time left — on loopback, the client's own CPU; behind a NIC with one receive queue, the CPU that takes
/// its interrupts — while another member's CPU waits for work, every 200 ms this moves a share of the busy CPU's new
/// connections to the idlest CPU (<see cref="ReuseportSpillProgram"/>: the kernel draws a random number per connection,
/// so no connection is ever handed between threads), and gives the share back as the idle time evens out
/// (<see cref="SpillPolicy"/>). Idle time is read per CPU (<see cref="CpuIdleClock"/>), so it counts everything that
/// runs there, not only this process, and is smoothed over periods so that one noisy period does not move the share.
/// </summary>
internal sealed class ReuseportBalancer : IDisposable
{
    private const int PeriodMs = 200;
    private const double Smoothing = 0.5; // weight of the newest period in each CPU's idle share

    private readonly object _sync = new();
    private readonly List<Group> _groups = new();
    private readonly Dictionary<int, double> _period = new();
    private readonly Dictionary<int, double> _idle = new();
    private readonly Dictionary<int, ReuseportSpillProgram.Spill> _spill = new();
    private readonly CpuIdleClock _clock;
    private readonly Action<string> _spillChanged;
    private readonly Action<int, int, double>? _spillRaised;
    private readonly Timer _timer;
    private readonly int[] _cpus;

    /// <param name="cpus">The CPUs whose members may spill to each other.</param>
    /// <param name="spillChanged">Called (under the balancer's lock) with a description of every change, for the owner's log.</param>
    /// <param name="spillRaised">
    /// Null, or called (on the balancer's timer, outside its lock; it should only queue work) with source CPU, target CPU
    /// and the rise of the source's share whenever a share rises: an owner whose connections live long can move that share of the
    /// source's open connections too (the TCP routes do; the transport's connections cannot change threads).
    /// </param>
    public ReuseportBalancer(IReadOnlyList<int> cpus, Action<string> spillChanged, Action<int, int, double>? spillRaised)
    {
        _cpus = cpus.ToArray();
        _spillChanged = spillChanged;
        _spillRaised = spillRaised;
        _clock = new CpuIdleClock(_cpus, CpuIdleClock.Detect(_cpus));
        foreach (var cpu in _cpus)
        {
            _spill[cpu] = new(0, cpu);
        }
        _timer = new Timer(static s => ((ReuseportBalancer)s!).Balance(), this, Timeout.Infinite, Timeout.Infinite);
    }

    private sealed record Group(Socket First, int[] MemberCpus);

    /// <summary>The spill of <paramref name="cpu"/> now: the share of its new connections that go to <c>Target</c>'s member (a CPU).</summary>
    public ReuseportSpillProgram.Spill SpillOf(int cpu)
    {
        lock (_sync)
        {
            return _spill.GetValueOrDefault(cpu, new(0, cpu));
        }
    }

    /// <summary>
    /// Starts balancing a reuseport group: attaches the selector with the current spill to its first member (which
    /// carries the program for the group) and re-attaches it whenever the spill changes, until <see cref="Remove"/>.
    /// Returns whether the selector attached.
    /// </summary>
    public bool Add(Socket first, int[] memberCpus)
    {
        lock (_sync)
        {
            var group = new Group(first, memberCpus);
            var attached = Attach(group);
            _groups.Add(group);
            if (_groups.Count == 1)
            {
                _timer.Change(PeriodMs, PeriodMs);
            }
            return attached;
        }
    }

    /// <summary>Stops re-attaching to the group of <paramref name="first"/>; once it returns, no attach of this balancer is in flight.</summary>
    public void Remove(Socket first)
    {
        lock (_sync)
        {
            _groups.RemoveAll(g => g.First == first);
            if (_groups.Count == 0)
            {
                _timer.Change(Timeout.Infinite, Timeout.Infinite);
            }
        }
    }

    private void Balance()
    {
        List<(int Source, int Target, double Rise)>? raised = null;
        lock (_sync)
        {
            if (_groups.Count == 0 || !_clock.TryRead(_period))
            {
                return;
            }
            foreach (var (cpu, idle) in _period)
            {
                _idle[cpu] = _idle.TryGetValue(cpu, out var before) ? Smoothing * idle + (1 - Smoothing) * before : idle;
            }
            var changed = false;
            foreach (var cpu in _cpus)
            {
                var current = _spill[cpu];
                var receiving = _spill.Any(s => s.Key != cpu && s.Value.Share > 0 && s.Value.Target == cpu);
                var next = SpillPolicy.Next(current, cpu, _idle, receiving);
                if (next.Share != current.Share || (next.Share > 0 && next.Target != current.Target))
                {
                    changed = true;
                }
                if (_spillRaised is not null && next.Share > current.Share && (current.Share == 0 || current.Target == next.Target))
                {
                    (raised ??= new()).Add((cpu, next.Target, next.Share - current.Share));
                }
                _spill[cpu] = next;
            }
            if (changed)
            {
                _spillChanged(string.Join(", ", _cpus.Select(c => $"cpu{c} {_idle[c]:P0} idle, spills {_spill[c].Share:P0} to cpu{_spill[c].Target}")));
                foreach (var group in _groups)
                {
                    Attach(group);
                }
            }
        }
        if (raised is null)
        {
            return;
        }
        // Outside the lock, after the programs are attached: the owner takes its own locks, and may hold one of them
        // while it calls Remove.
        foreach (var (source, target, rise) in raised)
        {
            _spillRaised!(source, target, rise);
        }
    }

    private bool Attach(Group group)
    {
        var spills = new ReuseportSpillProgram.Spill[group.MemberCpus.Length];
        for (var i = 0; i < spills.Length; i++)
        {
            var s = _spill.GetValueOrDefault(group.MemberCpus[i]);
            var target = Array.IndexOf(group.MemberCpus, s.Target);
            spills[i] = target >= 0 && s.Share > 0 ? new(s.Share, target) : new(0, i);
        }
        try
        {
            var program = spills.Any(s => s.Share > 0)
                ? ReuseportSpillProgram.Build(group.MemberCpus, spills)
                : ReuseportCpuProgram.Build(group.MemberCpus);
            return NativeSocket.TryAttachReuseportCbpf(group.First.SafeHandle, program).IsSuccess;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or OverflowException)
        {
            return false; // closed meanwhile; or too many members for 8-bit jumps: that group keeps plain locality
        }
    }

    public void Dispose()
    {
        lock (_sync)
        {
            _groups.Clear();
            _timer.Dispose();
        }
    }
}
