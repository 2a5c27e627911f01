using System.Diagnostics;
using System.Globalization;

namespace BpfSteer.Internal;

/// <summary>Where <see cref="CpuIdleClock"/> reads idle time.</summary>
internal enum CpuIdleSource
{
    /// <summary>cpuidle's residency per idle state, in microseconds (<c>/sys/devices/system/cpu/cpuN/cpuidle/stateK/time</c>).</summary>
    CpuIdle,

    /// <summary><c>/proc/stat</c>'s idle and iowait columns, in 10 ms units: coarse (a 200 ms period holds 20).</summary>
    ProcStat,
}

/// <summary>
/// Each CPU's idle share between two reads. cpuidle's counters are exact to the microsecond but only advance when a CPU
/// leaves an idle state, so an idle stretch in progress counts in the next period; <c>/proc/stat</c> is always current
/// but counts in 10 ms units, ±5 points of a 200 ms period. cpuidle is used where every balanced CPU has it (kernels
/// booted with <c>cpuidle.off=1</c>, and some virtual machines, have none), else <c>/proc/stat</c> (<see cref="Detect"/>).
/// </summary>
internal sealed class CpuIdleClock
{
    private const long ProcStatUnitMicros = 10_000; // USER_HZ is 100 on Linux

    private readonly int[] _cpus;
    private readonly string[][] _stateFiles;
    private readonly long[] _lastIdle;
    private readonly CpuIdleSource _source;
    private long _lastTimestamp;
    private bool _primed;

    /// <param name="cpus">The CPUs to measure.</param>
    /// <param name="source">Where to read (<see cref="Detect"/> chooses).</param>
    public CpuIdleClock(IReadOnlyList<int> cpus, CpuIdleSource source)
    {
        _cpus = cpus.ToArray();
        _lastIdle = new long[_cpus.Length];
        _stateFiles = source == CpuIdleSource.CpuIdle ? _cpus.Select(StateFiles).ToArray() : [];
        _source = source;
    }

    /// <summary>cpuidle where every one of <paramref name="cpus"/> has an idle state, else /proc/stat.</summary>
    public static CpuIdleSource Detect(IReadOnlyList<int> cpus) =>
        cpus.All(c => StateFiles(c).Length > 0) ? CpuIdleSource.CpuIdle : CpuIdleSource.ProcStat;

    /// <summary>
    /// Each CPU's idle share (0..1) since the previous call, keyed by CPU; false on the first call, and when a counter
    /// could not be read (the next call measures from this one).
    /// </summary>
    public bool TryRead(Dictionary<int, double> idle)
    {
        var now = Stopwatch.GetTimestamp();
        var current = new long[_cpus.Length];
        var read = _source == CpuIdleSource.CpuIdle ? TryReadCpuIdle(current) : TryReadProcStat(current);
        var elapsedMicros = Stopwatch.GetElapsedTime(_lastTimestamp, now).Ticks / TimeSpan.TicksPerMicrosecond;
        var valid = read && _primed && elapsedMicros > 0;
        if (valid)
        {
            idle.Clear();
            for (var i = 0; i < _cpus.Length; i++)
            {
                idle[_cpus[i]] = Math.Clamp((double)(current[i] - _lastIdle[i]) / elapsedMicros, 0, 1);
            }
        }
        if (read)
        {
            current.CopyTo(_lastIdle, 0);
            _lastTimestamp = now;
            _primed = true;
        }
        return valid;
    }

    private static string[] StateFiles(int cpu)
    {
        try
        {
            return Directory.GetDirectories($"/sys/devices/system/cpu/cpu{cpu}/cpuidle", "state*")
                .Select(d => Path.Combine(d, "time"))
                .Where(File.Exists)
                .ToArray();
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    private bool TryReadCpuIdle(long[] idleMicros)
    {
        try
        {
            for (var i = 0; i < _cpus.Length; i++)
            {
                if (_stateFiles[i].Length == 0)
                {
                    return false;
                }
                long total = 0;
                foreach (var file in _stateFiles[i])
                {
                    total += long.Parse(File.ReadAllText(file).AsSpan().Trim(), CultureInfo.InvariantCulture);
                }
                idleMicros[i] = total;
            }
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return false;
        }
    }

    private bool TryReadProcStat(long[] idleMicros)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines("/proc/stat");
        }
        catch (IOException)
        {
            return false;
        }
        var found = 0;
        foreach (var line in lines)
        {
            if (!line.StartsWith("cpu", StringComparison.Ordinal) || line.Length < 4 || !char.IsDigit(line[3]))
            {
                continue;
            }
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var index = Array.IndexOf(_cpus, int.Parse(fields[0].AsSpan(3), CultureInfo.InvariantCulture));
            if (index < 0 || fields.Length < 6)
            {
                continue;
            }
            // Columns: user nice system idle iowait ...; idle and iowait are both time the CPU had nothing to run.
            idleMicros[index] = (long.Parse(fields[4], CultureInfo.InvariantCulture) + long.Parse(fields[5], CultureInfo.InvariantCulture)) * ProcStatUnitMicros;
            found++;
        }
        return found == _cpus.Length;
    }
}
