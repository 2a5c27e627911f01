using System.Globalization;
using System.Net.Sockets;
using BpfSteer.Internal;
using BpfSteer.Interop;
using Microsoft.Extensions.Logging;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Keeps the TCP routes' CPU selector honest under load. The selector puts a new connection on the loop of the CPU that
/// received it (locality: no cross-CPU hop). When that CPU is saturated — on loopback, the client's own CPU — while
/// another loop's CPU has room, every 200 ms this moves a share of the hot CPU's new connections to the coldest CPU
/// (<see cref="ReuseportSpillProgram"/>: the kernel draws a random number per connection, so no connection is ever
/// handed between threads), and gives the share back as the load evens out. CPU load is read from /proc/stat, so it
/// counts everything that runs there, not only this process.
/// </summary>
internal sealed class TcpRouteBalancer : IDisposable
{
    private const int PeriodMs = 200;  // /proc/stat counts in 10 ms ticks: 20 per CPU and period
    private const double Saturated = 0.85;   // a CPU this busy may spill
    private const double Gap = 0.10;         // ... to a CPU at least this much less busy
    private const double Relaxed = 0.60;     // below this the spill is given back (slowly)
    private const double Step = 0.10;
    private const double MaxShare = 0.90;

    private readonly object _sync = new();
    private readonly List<Group> _groups = new();
    private readonly Dictionary<int, (long Busy, long Total)> _last = new();
    private readonly Dictionary<int, ReuseportSpillProgram.Spill> _spill = new();
    private readonly ILogger _logger;
    private readonly Timer _timer;
    private readonly int[] _cpus;

    public TcpRouteBalancer(IReadOnlyList<int> cpus, ILogger logger)
    {
        _cpus = cpus.ToArray();
        _logger = logger;
        foreach (var cpu in _cpus)
        {
            _spill[cpu] = new(0, 0);
        }
        _timer = new Timer(static s => ((TcpRouteBalancer)s!).Balance(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>The share of new connections received on <paramref name="cpu"/> that go to another CPU's loop now.</summary>
    public double SpillShare(int cpu)
    {
        lock (_sync)
        {
            return _spill.TryGetValue(cpu, out var s) ? s.Share : 0;
        }
    }

    private sealed record Group(Socket First, int[] MemberCpus);

    /// <summary>Starts balancing a reuseport group (its first member carries the program); returns whether the selector attached.</summary>
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
        lock (_sync)
        {
            if (_groups.Count == 0 || !TryReadLoad(out var load))
            {
                return;
            }
            var coldest = _cpus.MinBy(c => load[c]);
            var changed = false;
            foreach (var cpu in _cpus)
            {
                var current = _spill[cpu];
                var share = current.Share;
                var target = share > 0 ? current.Target : coldest;
                if (load[cpu] >= Saturated && load[cpu] - load[target] >= Gap && target != cpu)
                {
                    share = Math.Min(MaxShare, share + Step);
                }
                else if (share > 0 && (load[target] - load[cpu] >= Gap || load[cpu] < Relaxed))
                {
                    // Spilled too much (the target is now the hotter one), or the source has room again: back to locality.
                    share = Math.Max(0, share - Step / 2);
                }
                share = Math.Round(share, 2);
                if (share != current.Share || (share > 0 && target != current.Target))
                {
                    _spill[cpu] = new(share, target);
                    changed = true;
                }
            }
            if (changed)
            {
                SockmapForwarderLog.SpillChanged(_logger, string.Join(", ", _cpus.Select(c => $"cpu{c} {load[c]:P0} busy, spills {_spill[c].Share:P0} to cpu{_spill[c].Target}")));
                foreach (var group in _groups)
                {
                    Attach(group);
                }
            }
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

    /// <summary>Busy share of each balanced CPU since the previous call, from /proc/stat (steal counts as busy).</summary>
    private bool TryReadLoad(out Dictionary<int, double> load)
    {
        load = new Dictionary<int, double>();
        string[] lines;
        try
        {
            lines = File.ReadAllLines("/proc/stat");
        }
        catch (IOException)
        {
            return false;
        }
        var complete = true;
        foreach (var line in lines)
        {
            if (!line.StartsWith("cpu", StringComparison.Ordinal) || line.Length < 4 || !char.IsDigit(line[3]))
            {
                continue;
            }
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var cpu = int.Parse(fields[0].AsSpan(3), CultureInfo.InvariantCulture);
            if (!_spill.ContainsKey(cpu) || fields.Length < 9)
            {
                continue;
            }
            long total = 0;
            for (var f = 1; f <= 8; f++)
            {
                total += long.Parse(fields[f], CultureInfo.InvariantCulture);
            }
            var idle = long.Parse(fields[4], CultureInfo.InvariantCulture) + long.Parse(fields[5], CultureInfo.InvariantCulture);
            var busy = total - idle;
            if (_last.TryGetValue(cpu, out var last) && total > last.Total)
            {
                load[cpu] = (double)(busy - last.Busy) / (total - last.Total);
            }
            else
            {
                complete = false;
            }
            _last[cpu] = (busy, total);
        }
        return complete && load.Count == _cpus.Length;
    }

    public void Dispose() => _timer.Dispose();
}
