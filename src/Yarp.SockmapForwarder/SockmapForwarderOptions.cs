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
    /// The most bytes the sockmap path may hold, summed over every connection and direction, outside any socket's
    /// accounting: redirected to a peer socket but not yet in its send queue (the kernel's psock backlog, which
    /// neither <c>tcp_mem</c> nor memcg sees). While it is used up, every direction's new bytes are parked on their
    /// source socket (charged there, and TCP flow control slows the sender), never dropped; the status names the routes
    /// held back. Each connection is also bounded by its route's <c>MaxQueuedBytes</c>. See docs/design.md, "Sockmap:
    /// back-pressure and the queue bound".
    /// </summary>
    /// <remarks>Defaults to 256 MiB (268435456); at least 8 MiB.</remarks>
    public long KernelQueueBudget { get; set; } = DefaultKernelQueueBudget;

    internal const long DefaultKernelQueueBudget = 256L << 20;

    /// <summary>How long an Auto route stays on the user-space path after the placement rule saw client, backend and
    /// the kernel's forwarding work share one CPU.</summary>
    /// <remarks>Defaults to 10 seconds.</remarks>
    public TimeSpan PlacementHold { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a TCP route loop (one per CPU, shared by every route) that runs out of events keeps polling its sockets,
    /// yielding the CPU to any other runnable thread between polls, before it sleeps in epoll_wait. A connection, request
    /// or reply that arrives within this time is taken without waking a sleeping thread: at low concurrency that is a
    /// large part of a proxied exchange's latency. <see cref="TimeSpan.Zero"/> turns it off. At most 1 ms. See
    /// docs/design.md, "Event loops: idle spin" (the transport's workers have the same setting, <c>BpfSteer:Transport:IdleSpin</c>).
    /// </summary>
    /// <remarks>Defaults to 50 µs.</remarks>
    public TimeSpan IdleSpin { get; set; } = TimeSpan.FromMicroseconds(50);

    /// <summary>Per-route CPU affinity of the sockmap path through Receive Flow Steering.</summary>
    /// <remarks>Defaults to a new <see cref="SockmapSteeringOptions"/> (steering off).</remarks>
    public SockmapSteeringOptions Steering { get; set; } = new();
}
