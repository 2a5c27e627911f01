namespace Transport.BpfSteer.Tests;

/// <summary>
/// Open descriptors of this process (/proc/self/fd), for leak checks. Only the kinds the transport creates count —
/// sockets, anonymous inodes (epoll, eventfd, BPF maps/programs) and pipes — so the runtime lazily mapping an
/// assembly file in the middle of a test is not mistaken for a leak.
/// </summary>
public static class FdCount
{
    public static int Current() => Snapshot().Count(kv => IsKernelObject(kv.Value));

    private static bool IsKernelObject(string target)
        => target.StartsWith("socket:", StringComparison.Ordinal) || target.StartsWith("anon_inode:", StringComparison.Ordinal)
           || target.StartsWith("pipe:", StringComparison.Ordinal);

    /// <summary>fd number → what it points to (e.g. "socket:[1234]"), to name the culprits of a failed leak check.</summary>
    public static Dictionary<string, string> Snapshot()
    {
        var map = new Dictionary<string, string>();
        foreach (var f in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                map[Path.GetFileName(f)] = new FileInfo(f).LinkTarget ?? "?";
            }
            catch (IOException)
            {
            }
        }
        return map;
    }

    /// <summary>Descriptors in <paramref name="now"/> that were not in <paramref name="before"/>, with targets.</summary>
    public static string Describe(Dictionary<string, string> before, Dictionary<string, string> now)
        => string.Join(", ", now.Where(kv => !before.TryGetValue(kv.Key, out var t) || t != kv.Value).Select(kv => $"{kv.Key}->{kv.Value}"));

    /// <summary>Waits (bounded) for the count to come back to at most <paramref name="baseline"/>; returns the last count.</summary>
    public static async Task<int> SettleAsync(int baseline, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var count = Current();
        while (count > baseline && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            count = Current();
        }
        return count;
    }
}
