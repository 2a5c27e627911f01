namespace Transport.BpfSteer.Tests;

/// <summary>Reads the transport's worker threads from /proc/self/task: names and CPU affinity (Cpus_allowed_list).</summary>
public static class WorkerThreads
{
    public static IEnumerable<string> Names()
        => Directory.GetDirectories("/proc/self/task").Select(t => SafeRead(t + "/comm").Trim()).Where(n => n.StartsWith("bpfsteer-cpu", StringComparison.Ordinal));

    public static int[] Affinity(string name)
    {
        foreach (var t in Directory.GetDirectories("/proc/self/task"))
        {
            if (SafeRead(t + "/comm").Trim() == name)
            {
                var line = SafeRead(t + "/status").Split('\n').First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
                return line.Split(':')[1].Trim().Split(',').SelectMany(Expand).ToArray();
            }
        }
        throw new InvalidOperationException($"No thread named {name}.");
    }

    private static IEnumerable<int> Expand(string range)
    {
        var parts = range.Split('-');
        var from = int.Parse(parts[0]);
        var to = parts.Length > 1 ? int.Parse(parts[1]) : from;
        return Enumerable.Range(from, to - from + 1);
    }

    private static string SafeRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }
}
