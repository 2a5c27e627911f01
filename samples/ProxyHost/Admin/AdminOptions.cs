namespace ProxyHost.Admin;

/// <summary>
/// The admin listener (<c>BpfSteer:Admin</c>): its own Kestrel endpoint for <c>/bpfsteer</c>, <c>/bpfsteer/status</c>,
/// <c>/healthz</c> and <c>/metrics</c>, so the proxy's endpoints serve nothing but the proxied routes.
/// </summary>
internal sealed class AdminOptions
{
    public const string SectionName = "BpfSteer:Admin";

    /// <summary>The configuration key of <see cref="Url"/>, as error messages and doctor name it.</summary>
    public const string UrlKey = SectionName + ":" + nameof(Url);

    /// <summary>The configuration key of <see cref="ProxyHealthPath"/>.</summary>
    public const string ProxyHealthPathKey = SectionName + ":" + nameof(ProxyHealthPath);

    public const string DefaultUrl = "http://127.0.0.1:0";

    /// <summary>
    /// Where the admin listener binds, as a Kestrel URL: <c>http://IP:PORT</c>, <c>http://[IPv6]:PORT</c>,
    /// <c>http://localhost:PORT</c> or <c>http://*:PORT</c> (every address). Port 0 picks a free port, printed at start.
    /// Anything but a loopback address exposes routes, backends and kernel details to the network: an explicit choice,
    /// which doctor and the start-up summary point out.
    /// </summary>
    /// <remarks>Defaults to <c>http://127.0.0.1:0</c>.</remarks>
    public string Url { get; set; } = DefaultUrl;

    /// <summary>
    /// A path (e.g. <c>/healthz</c>) answered on the proxy's own HTTP endpoints by the same health checks as the admin
    /// listener's <c>/healthz</c>, for a load balancer that can only probe the port it balances. It answers with the
    /// status word only (Healthy, Degraded, Unhealthy; 503 when Unhealthy), never the details, and shadows a proxied
    /// route with the same path.
    /// </summary>
    /// <remarks>Defaults to null: off, every path of the proxy's endpoints reaches the proxied routes.</remarks>
    public string? ProxyHealthPath { get; set; }
}
