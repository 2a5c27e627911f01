namespace Yarp.SockmapForwarder.DataPath.Steering;

/// <summary>
/// Reads and (when allowed) writes the kernel's RFS settings: the global sock-flow table
/// (<c>/proc/sys/net/core/rps_sock_flow_entries</c>, which also turns on the rps_needed/rfs_needed static keys that
/// make loopback's netif_rx consult RPS/RFS) and each rx queue's flow table
/// (<c>/sys/class/net/IF/queues/rx-N/rps_flow_cnt</c>). Remembers what it changed and restores it on <see cref="Restore"/>.
/// </summary>
internal sealed class RfsConfiguration
{
    internal const string SockFlowEntriesPath = "/proc/sys/net/core/rps_sock_flow_entries";

    private readonly string _procPath;
    private readonly string _sysClassNet;
    private readonly List<(string Path, string Value)> _changed = new();
    private readonly object _gate = new();

    public RfsConfiguration(string procPath = SockFlowEntriesPath, string sysClassNet = "/sys/class/net")
    {
        _procPath = procPath;
        _sysClassNet = sysClassNet;
    }

    /// <summary>Null when RFS is configured for <paramref name="iface"/>, else what is missing.</summary>
    public string? Problem(string iface)
    {
        var entries = ReadInt(_procPath);
        if (entries is null or <= 0)
        {
            return $"RFS is off: {_procPath} is {entries?.ToString() ?? "unreadable"}";
        }
        var queues = RxQueues(iface);
        if (queues.Length == 0)
        {
            return $"interface '{iface}' has no rx queues under {_sysClassNet}/{iface}/queues (no RPS in this kernel?)";
        }
        foreach (var q in queues)
        {
            var cnt = ReadInt(Path.Combine(q, "rps_flow_cnt"));
            if (cnt is null or <= 0)
            {
                return $"RFS is off on '{iface}': {q}/rps_flow_cnt is {cnt?.ToString() ?? "unreadable"}";
            }
        }
        return null;
    }

    /// <summary>Turns RFS on for <paramref name="iface"/> (never lowering a value); null on success, else why not.</summary>
    public string? TryConfigure(string iface, int sockFlowEntries, int flowCountPerQueue)
    {
        lock (_gate)
        {
            try
            {
                Raise(_procPath, sockFlowEntries);
                foreach (var q in RxQueues(iface))
                {
                    Raise(Path.Combine(q, "rps_flow_cnt"), flowCountPerQueue);
                }
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
            {
                return $"could not configure RFS on '{iface}' (needs root or CAP_NET_ADMIN and writable /proc/sys, /sys): {ex.Message}";
            }
            return Problem(iface);
        }
    }

    /// <summary>Writes back every value this instance changed, newest first.</summary>
    public void Restore()
    {
        lock (_gate)
        {
            for (var i = _changed.Count - 1; i >= 0; i--)
            {
                try
                {
                    File.WriteAllText(_changed[i].Path, _changed[i].Value);
                }
                catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
                {
                    // Nothing better to do on dispose; the value stays (RFS on), which is harmless to correctness.
                }
            }
            _changed.Clear();
        }
    }

    private void Raise(string path, int value)
    {
        var before = File.ReadAllText(path).Trim();
        if (int.TryParse(before, out var current) && current >= value)
        {
            return;
        }
        File.WriteAllText(path, value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _changed.Add((path, before));
    }

    private string[] RxQueues(string iface)
    {
        var dir = Path.Combine(_sysClassNet, iface, "queues");
        return Directory.Exists(dir) ? Directory.GetDirectories(dir, "rx-*").Order(StringComparer.Ordinal).ToArray() : [];
    }

    private static int? ReadInt(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), out var v) ? v : null;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return null;
        }
    }
}
