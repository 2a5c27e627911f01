namespace Yarp.SockmapForwarder.Internal;

/// <summary>Where TCP routes live in configuration, and the keys of one route (built from the property names).</summary>
internal static class TcpRouteConfigKeys
{
    /// <summary>The section under the YARP section (<c>ReverseProxy</c>) that holds one child per TCP route.</summary>
    public const string Section = "TcpRoutes";

    /// <summary>The YARP section read when <c>AddSockmapForwarder()</c> is given no configuration.</summary>
    public const string DefaultProxySection = "ReverseProxy";

    public const string Listen = nameof(TcpRouteConfig.Listen);
    public const string ClusterId = nameof(TcpRouteConfig.ClusterId);
    public const string Cpu = nameof(TcpRouteConfig.Cpu);
    public const string Mode = nameof(TcpRouteConfig.Mode);
    public const string ConnectTimeout = nameof(TcpRouteConfig.ConnectTimeout);
    public const string IdleTimeout = nameof(TcpRouteConfig.IdleTimeout);
    public const string MaxConnections = nameof(TcpRouteConfig.MaxConnections);
    public const string ProxyProtocol = nameof(TcpRouteConfig.ProxyProtocol);
    public const string Sni = nameof(TcpRouteConfig.Sni);
    public const string MaxQueuedBytes = nameof(TcpRouteConfig.MaxQueuedBytes);

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        Listen, ClusterId, Cpu, Mode, ConnectTimeout, IdleTimeout, MaxConnections, ProxyProtocol, Sni, MaxQueuedBytes,
    };
}
