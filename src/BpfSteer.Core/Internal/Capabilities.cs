using System.Globalization;

namespace BpfSteer.Internal;

/// <summary>Reads the effective capability set of this process from /proc/self/status.</summary>
internal static class Capabilities
{
    public const int CAP_NET_BIND_SERVICE = 10;
    public const int CAP_NET_ADMIN = 12;
    public const int CAP_SYS_ADMIN = 21;
    public const int CAP_PERFMON = 38;
    public const int CAP_BPF = 39;

    public static ulong Effective()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
            {
                return ulong.Parse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    public static bool Has(int capability) => (Effective() & (1UL << capability)) != 0;
}
