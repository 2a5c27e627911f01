namespace Yarp.SockmapForwarder;

/// <summary>
/// Receive Flow Steering for sockmap routes that set <c>Cpu</c>: each connection's two proxy sockets record their flows
/// from a thread pinned to the route's CPU, so the kernel receives the client's and the backend's packets — and runs
/// the verdict and most of the forwarding work — there instead of on the sender's CPU. Measured to pay only when the
/// route's CPU is free of the clients and backends and the proxy runs there
/// (docs/design.md, "CPU affinity: RFS steering").
/// </summary>
public sealed class SockmapSteeringOptions
{
    /// <summary>Whether sockmap connections of routes with a CPU are steered with RFS.</summary>
    /// <remarks>Defaults to <c>false</c>.</remarks>
    public bool Enabled { get; set; }

    /// <summary>
    /// Whether the forwarder may turn RFS on where it is off (<c>net.core.rps_sock_flow_entries</c> and the receive
    /// queues' <c>rps_flow_cnt</c>); needs write access to /proc/sys and /sys. The previous values are restored when
    /// the forwarder stops. Without it, steering works only where RFS is already configured.
    /// </summary>
    /// <remarks>Defaults to <c>false</c>.</remarks>
    public bool ConfigureRfs { get; set; }

    /// <summary>The global sock-flow table size written when <see cref="ConfigureRfs"/> turns RFS on (never lowered).</summary>
    /// <remarks>Defaults to 32768.</remarks>
    public int SockFlowEntries { get; set; } = 32768;

    /// <summary>Each receive queue's flow table size written when <see cref="ConfigureRfs"/> turns RFS on (never lowered).</summary>
    /// <remarks>Defaults to 32768.</remarks>
    public int FlowCountPerQueue { get; set; } = 32768;

    /// <summary>
    /// How often every steered socket records its flow again (10 ms to 1 hour). Entries are overwritten by colliding
    /// flows and by the proxy's own reads on another CPU; a new connection also records after 10, 50 and 250 ms.
    /// Measured: without parking nothing overwrote the entries (a 1 h refresh kept 100% on the route CPU); with parking
    /// the engine's reads of parked bytes record its own CPU at every read, which no interval beats: pin the proxy to
    /// the route CPU.
    /// </summary>
    /// <remarks>Defaults to 1 second.</remarks>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

}
