using System.Globalization;

namespace ProxyHost.Tests.Infrastructure;

/// <summary>Runs ProxyHost with every capability dropped, as root, and reads a process's effective set.</summary>
public static class Capabilities
{
    /// <summary>
    /// setpriv (util-linux) clears the inheritable, ambient and bounding sets before exec: root then execs dotnet with
    /// an empty permitted and effective set — the same process a non-root user without file capabilities gets.
    /// </summary>
    public static readonly IReadOnlyList<string> DropAll = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"];

    public static ulong Effective(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        return ulong.Parse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
