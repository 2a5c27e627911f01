namespace Yarp.SockmapForwarder;

/// <summary>
/// One TCP passthrough route, read from <c>ReverseProxy:TcpRoutes:{RouteId}</c> beside YARP's own <c>Routes</c> and
/// <c>Clusters</c>. The route listens on a Kestrel endpoint and forwards every connection to a destination of an ordinary
/// YARP cluster whose destination addresses are <c>tcp://host:port</c>.
/// </summary>
public sealed record TcpRouteConfig
{
    /// <summary>The route id: the configuration section's key. Used in logs, metrics (tag <c>route</c>) and status.</summary>
    public required string RouteId { get; init; }

    /// <summary>The endpoint to listen on, <c>address:port</c>: <c>127.0.0.1:6380</c>, <c>[::1]:6380</c>, <c>*:6380</c> (every IPv4 and IPv6 address), <c>localhost:6380</c>.</summary>
    /// <remarks>Required. Port 0 binds a free port (the bound one is reported by <see cref="ISockmapForwarderStatus"/>).</remarks>
    public required string Listen { get; init; }

    /// <summary>The id of the YARP cluster whose destinations receive the connections.</summary>
    /// <remarks>Required. The cluster's <c>LoadBalancingPolicy</c> and <c>HealthCheck</c> settings apply.</remarks>
    public required string ClusterId { get; init; }

    /// <summary>
    /// The CPU this route's forwarding work should run on. When null, a connection handed off by the BpfSteer transport
    /// runs on the CPU of the worker that accepted it; other connections get no affinity.
    /// </summary>
    /// <remarks>Defaults to null.</remarks>
    public int? Cpu { get; init; }

    /// <summary>Whether payload moves through the in-kernel sockmap path, the user-space path, or whichever suits.</summary>
    /// <remarks>Defaults to <see cref="TcpForwarderMode.Auto"/>.</remarks>
    public TcpForwarderMode Mode { get; init; } = TcpForwarderMode.Auto;

    /// <summary>How long one connect attempt to a destination may take before the next destination is tried.</summary>
    /// <remarks>Defaults to 5 seconds.</remarks>
    public TimeSpan ConnectTimeout { get; init; } = DefaultConnectTimeout;

    /// <summary>Close both sides when neither direction moved a byte for this long; <see cref="TimeSpan.Zero"/> = never.</summary>
    /// <remarks>Defaults to <see cref="TimeSpan.Zero"/> (no idle timeout): pooled database and cache connections idle for long.</remarks>
    public TimeSpan IdleTimeout { get; init; }

    /// <summary>The most connections this route holds open at once; a connection above it is closed as soon as it is accepted.</summary>
    /// <remarks>Defaults to null (no limit besides Kestrel's own <c>Limits.MaxConcurrentConnections</c>).</remarks>
    public int? MaxConnections { get; init; }

    /// <summary>The PROXY protocol header written to the backend before any client byte.</summary>
    /// <remarks>Defaults to <see cref="ProxyProtocolVersion.None"/>.</remarks>
    public ProxyProtocolVersion ProxyProtocol { get; init; }

    /// <summary>
    /// TLS passthrough filter: host names (exact, or <c>*.example.com</c> for one label) the TLS ClientHello's
    /// server_name must match. The ClientHello is examined, not consumed: the backend receives it unchanged.
    /// A connection without a matching server name (or that is not TLS) is closed.
    /// </summary>
    /// <remarks>Defaults to empty (no filter, any bytes pass).</remarks>
    public IReadOnlyList<string> Sni { get; init; } = [];

    /// <summary>
    /// Per connection and direction, the most bytes the sockmap path holds redirected but not yet in the destination's
    /// send queue (memory no socket is charged for). Beyond it the direction parks: new bytes wait on the source socket,
    /// charged there, until the backlog has drained. The process-wide total is bounded by
    /// <c>BpfSteer:Forwarder:KernelQueueBudget</c>. See docs/design.md, "Sockmap: back-pressure and the queue bound".
    /// </summary>
    /// <remarks>Defaults to 32 MiB; at least 1 MiB.</remarks>
    public long MaxQueuedBytes { get; init; } = DefaultMaxQueuedBytes;

    /// <summary>Value equality, with <see cref="Sni"/> compared by content (a reload that changes nothing is not a change).</summary>
    public bool Equals(TcpRouteConfig? other) =>
        other is not null
        && RouteId == other.RouteId && Listen == other.Listen && ClusterId == other.ClusterId && Cpu == other.Cpu
        && Mode == other.Mode && ConnectTimeout == other.ConnectTimeout && IdleTimeout == other.IdleTimeout
        && MaxConnections == other.MaxConnections && ProxyProtocol == other.ProxyProtocol
        && MaxQueuedBytes == other.MaxQueuedBytes && Sni.SequenceEqual(other.Sni, StringComparer.OrdinalIgnoreCase);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(RouteId, Listen, ClusterId, Cpu, Mode, ConnectTimeout, IdleTimeout, Sni.Count);

    internal static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    internal const long DefaultMaxQueuedBytes = 32L << 20;

    /// <summary>The smallest MaxQueuedBytes: below it nearly every bulk segment would park.</summary>
    internal const long MinMaxQueuedBytes = 1L << 20;
}
