namespace Yarp.SockmapForwarder.DataPath.Steering;

/// <summary>
/// Receive Flow Steering for sockmap routes that have a CPU (the redirect-CPU kfunc is not in this kernel): each
/// connection's two proxy sockets record their flows from a thread pinned to the route CPU, so the kernel
/// processes the client's and the backend's packets — and with them the verdict and the psock backlog send —
/// on that CPU instead of the sender's (DataPath/README.md, "CPU affinity", has the measurements).
/// </summary>
internal sealed class RfsSteeringOptions
{
    /// <summary>Whether sockmap connections of routes with a CPU are steered with RFS.</summary>
    /// <remarks>Defaults to <c>false</c>.</remarks>
    public bool Enabled { get; set; }

    /// <summary>
    /// Whether the forwarder may turn RFS on where it is off (<c>net.core.rps_sock_flow_entries</c> and the rx
    /// queues' <c>rps_flow_cnt</c> of the interface the route's traffic arrives on). Needs root or CAP_NET_ADMIN
    /// with write access to /proc/sys and /sys; the previous values are restored when the forwarder is disposed.
    /// Without it, steering is used only where RFS is already configured.
    /// </summary>
    /// <remarks>Defaults to <c>false</c>.</remarks>
    public bool ConfigureRfs { get; set; }

    /// <summary>The global sock-flow table size written when <see cref="ConfigureRfs"/> turns RFS on (never lowered).</summary>
    /// <remarks>Defaults to 32768.</remarks>
    public int SockFlowEntries { get; set; } = 32768;

    /// <summary>Each rx queue's flow table size written when <see cref="ConfigureRfs"/> turns RFS on (never lowered).</summary>
    /// <remarks>Defaults to 32768.</remarks>
    public int FlowCountPerQueue { get; set; } = 32768;

    /// <summary>
    /// How often every steered socket records its flow again. Entries are overwritten by colliding flows and by
    /// the proxy's own reads on another CPU, and a socket's receive hash changes when the peer re-hashes; a new
    /// connection also records after 10, 50 and 250 ms. Measured: without parking nothing overwrote the entries
    /// (refresh 1 h kept 100% on the route CPU); with parking the engine's reads of parked bytes record its own CPU
    /// at every read, which no refresh interval beats (100 ms still left 99% elsewhere): pin the proxy to the route CPU.
    /// </summary>
    /// <remarks>Defaults to 1 second.</remarks>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws naming the setting when a value cannot work.</summary>
    public void Validate()
    {
        if (SockFlowEntries <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(SockFlowEntries), $"BpfSteer:Forwarder:Steering:SockFlowEntries must be positive; '{SockFlowEntries}' was set.");
        }
        if (FlowCountPerQueue <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(FlowCountPerQueue), $"BpfSteer:Forwarder:Steering:FlowCountPerQueue must be positive; '{FlowCountPerQueue}' was set.");
        }
        if (RefreshInterval < TimeSpan.FromMilliseconds(10) || RefreshInterval > TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(nameof(RefreshInterval), $"BpfSteer:Forwarder:Steering:RefreshInterval must be between 10 ms and 1 hour; '{RefreshInterval}' was set.");
        }
    }
}
