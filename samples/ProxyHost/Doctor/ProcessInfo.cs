using System.Globalization;

namespace ProxyHost.Doctor;

/// <summary>What /proc says about this process: effective capabilities and the CPUs it may run on.</summary>
internal static class ProcessInfo
{
    public const int CapNetBindService = 10;
    public const int CapNetAdmin = 12;
    public const int CapSysAdmin = 21;
    public const int CapBpf = 39;

    public static bool HasCapability(int capability) => (StatusField("CapEff:") is { } hex
        && ulong.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask)
        && (mask & (1UL << capability)) != 0);

    /// <summary>The CPUs in this process's affinity mask (honours taskset and cgroup cpusets), e.g. {0, 1}.</summary>
    public static SortedSet<int> AllowedCpus()
    {
        var cpus = new SortedSet<int>();
        foreach (var part in (StatusField("Cpus_allowed_list:") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var range = part.Split('-');
            var first = int.Parse(range[0], CultureInfo.InvariantCulture);
            var last = range.Length > 1 ? int.Parse(range[1], CultureInfo.InvariantCulture) : first;
            for (var cpu = first; cpu <= last; cpu++)
            {
                cpus.Add(cpu);
            }
        }
        return cpus;
    }

    public static string? ReadTrimmed(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? StatusField(string name) =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal))?[name.Length..].Trim();
}
