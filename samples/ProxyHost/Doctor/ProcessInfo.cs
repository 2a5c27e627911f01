using System.Globalization;

namespace ProxyHost.Doctor;

/// <summary>What /proc says about this process: the CPUs it may run on (capabilities: BpfSteer.Internal.Capabilities).</summary>
internal static class ProcessInfo
{
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
