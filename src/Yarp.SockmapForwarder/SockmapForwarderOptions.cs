namespace Yarp.SockmapForwarder;

/// <summary>
/// Process-wide settings of the TCP forwarder's data path, bound from the configuration section
/// <c>BpfSteer:Forwarder</c> by <c>AddSockmapForwarder()</c> (per-route settings live in <c>ReverseProxy:TcpRoutes</c>).
/// </summary>
public sealed class SockmapForwarderOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "BpfSteer:Forwarder";

    /// <summary>How many connections the sockmap path holds at once; beyond it new connections use the user-space path.</summary>
    /// <remarks>Defaults to 16384 (each connection takes two entries in each BPF map).</remarks>
    public int SockmapCapacity { get; set; } = 16384;

    /// <summary>
    /// Whether a start-up self-test of the sockmap semantics (early data, half-close, parking) must pass before any
    /// route uses the sockmap path; when it fails, routes use the user-space path and say why.
    /// </summary>
    /// <remarks>Defaults to <c>true</c>.</remarks>
    public bool RunSelfTest { get; set; } = true;

    /// <summary>
    /// Whether <c>Mode=Auto</c> routes may use the sockmap path. Off by default: with the per-connection queue bound a
    /// bulk stream measured no faster on sockmap than on the splice path (see the data path README, "Bounded memory").
    /// </summary>
    /// <remarks>Defaults to <c>false</c>.</remarks>
    public bool AutoAllowsSockmap { get; set; }

    /// <summary>How long an Auto route stays on the user-space path after the placement rule saw client, backend and
    /// the kernel's forwarding work share one CPU.</summary>
    /// <remarks>Defaults to 10 seconds.</remarks>
    public TimeSpan PlacementHold { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Per-route CPU affinity of the sockmap path through Receive Flow Steering.</summary>
    /// <remarks>Defaults to a new <see cref="SockmapSteeringOptions"/> (steering off).</remarks>
    public SockmapSteeringOptions Steering { get; set; } = new();
}
