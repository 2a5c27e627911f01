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

    /// <summary>
    /// The deployment the README and deploy/bpfsteer-proxyhost.service describe: an unprivileged user (nobody) holding
    /// only CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON as ambient capabilities. HOME points somewhere writable for ASP.NET's key ring.
    /// </summary>
    public static readonly IReadOnlyList<string> NobodyWithBpfNetAdminAndPerfmon = Nobody("+bpf,+net_admin,+perfmon");

    /// <summary>The same user without CAP_PERFMON, which the sockmap verdict's kernel reads need.</summary>
    public static readonly IReadOnlyList<string> NobodyWithBpfAndNetAdmin = Nobody("+bpf,+net_admin");

    private static IReadOnlyList<string> Nobody(string caps) =>
    [
        "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
        $"--inh-caps={caps}", $"--ambient-caps={caps}", "--", "env", "HOME=/tmp",
    ];

    public static ulong Effective(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        return ulong.Parse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
