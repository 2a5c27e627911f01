using BpfSteer;

namespace Yarp.SockmapForwarder.DataPath;

/// <summary>Process-wide settings of <see cref="DataPathForwarder"/> (per-route settings are in <see cref="DataPathOptions"/>).</summary>
internal sealed class DataPathForwarderOptions
{
    /// <summary>How many connections the sockmap path holds at once; beyond it connections use user space.</summary>
    /// <remarks>Defaults to 16384 (two map entries each).</remarks>
    public int SockmapCapacity { get; set; } = 16384;

    /// <summary>Whether a start-up self-test of the sockmap semantics (early data, half-close, parking) gates the sockmap path.</summary>
    /// <remarks>Defaults to <c>true</c>.</remarks>
    public bool RunSelfTest { get; set; } = true;

    /// <summary>The kernel feature report to decide with; null means <see cref="KernelFeatures.Current"/>.</summary>
    /// <remarks>Defaults to <c>null</c>.</remarks>
    public KernelFeatureReport? Features { get; set; }

    /// <summary>
    /// Whether Auto routes may use the sockmap path. Its queue bound (the verdict parks bytes on the source socket,
    /// KERNEL-NOTES 14) is lossless (2,100 both-ways stress runs byte-exact once overlapping retransmissions are cut),
    /// but a bulk stream that reaches the bound stays parked, and then measured no faster than the splice path
    /// (0.59× vs 0.64× direct, one iperf3 stream): so Auto keeps routes on user space unless this is set.
    /// </summary>
    /// <remarks>Defaults to <c>false</c>.</remarks>
    public bool AutoAllowsSockmap { get; set; }

    /// <summary>How long an Auto route stays on user space after the placement rule saw both directions' verdicts on one CPU.</summary>
    /// <remarks>Defaults to 10 seconds.</remarks>
    public TimeSpan PlacementHold { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Per-route CPU affinity of the sockmap path through Receive Flow Steering (see <see cref="SockmapSteeringOptions"/>).</summary>
    /// <remarks>Defaults to a new <see cref="SockmapSteeringOptions"/> (steering off).</remarks>
    public SockmapSteeringOptions Steering { get; set; } = new();

    /// <summary>The data path settings for the public, configuration-bound <see cref="SockmapForwarderOptions"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value cannot work; the message names its configuration key.</exception>
    public static DataPathForwarderOptions From(SockmapForwarderOptions options)
    {
        const string Section = SockmapForwarderOptions.SectionName;
        if (options.SockmapCapacity is < 1 or > 1 << 20)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"{Section}:SockmapCapacity must be between 1 and 1048576; '{options.SockmapCapacity}' was set.");
        }
        if (options.PlacementHold < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"{Section}:PlacementHold must not be negative; '{options.PlacementHold}' was set.");
        }
        var result = new DataPathForwarderOptions
        {
            SockmapCapacity = options.SockmapCapacity,
            RunSelfTest = options.RunSelfTest,
            AutoAllowsSockmap = options.AutoAllowsSockmap,
            PlacementHold = options.PlacementHold,
            Steering = options.Steering ?? new SockmapSteeringOptions(),
        };
        result.Steering.Validate();
        return result;
    }
}
