namespace ProxyHost.Admin;

/// <summary>The meters <c>/metrics</c> exports (OpenTelemetry's Prometheus exporter only exports meters it is told of).</summary>
internal static class PrometheusMeters
{
    public static readonly string[] Names =
    [
        "BpfSteer.Transport",                     // per-worker accepts, locality, descriptor back-off, open connections
        "Yarp.SockmapForwarder",                  // per-TCP-route connections, bytes, verdict runs per CPU, rejects
        "Microsoft.AspNetCore.Server.Kestrel",    // Kestrel: connections, their duration, TLS handshakes, upgrades
        "Microsoft.AspNetCore.Hosting",           // every HTTP request, tagged with the route pattern (YARP's routes)
        "Microsoft.AspNetCore.Routing",           // route matches and misses
        // YARP 2.x defines no Meter (its counters are EventCounters); it forwards through SocketsHttpHandler, whose meter
        // records each proxied request per destination (server.address, server.port, status code).
        "System.Net.Http",
    ];
}
