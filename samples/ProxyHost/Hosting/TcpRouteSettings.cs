using System.Globalization;
using System.Net;

namespace ProxyHost.Hosting;

/// <summary>
/// ProxyHost's read-only view of one <c>ReverseProxy:TcpRoutes</c> entry, for the start-up summary, doctor and
/// health checks. The forwarder owns the real parsing and validation (<c>Yarp.SockmapForwarder.TcpRouteConfig</c>);
/// this reads only the keys ProxyHost reports on, as raw strings, so doctor can name a bad value instead of throwing.
/// </summary>
internal sealed record TcpRouteSettings(string Id, string? Listen, string? ClusterId, string? Mode, string? Cpu)
{
    public const string SectionName = "ReverseProxy:TcpRoutes";

    public static IReadOnlyList<TcpRouteSettings> Read(IConfiguration configuration) =>
        configuration.GetSection(SectionName).GetChildren()
            .Select(s => new TcpRouteSettings(s.Key, s["Listen"], s["ClusterId"], s["Mode"], s["Cpu"]))
            .ToList();

    /// <summary>
    /// Parses <see cref="Listen"/> in the forms the forwarder accepts: <c>IP:port</c>, <c>[IPv6]:port</c>, <c>*:port</c>
    /// (every address, probed here as 0.0.0.0) and <c>localhost:port</c> (probed as 127.0.0.1).
    /// </summary>
    public bool TryGetListenEndPoint(out IPEndPoint endPoint)
    {
        endPoint = null!;
        var colon = Listen?.LastIndexOf(':') ?? -1;
        if (colon <= 0 || !int.TryParse(Listen.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort)
        {
            return false;
        }
        var host = Listen![..colon];
        IPAddress? address = host switch
        {
            "*" or "+" => IPAddress.Any,
            _ when string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) => IPAddress.Loopback,
            ['[', .., ']'] => IPAddress.TryParse(host[1..^1], out var v6) ? v6 : null,
            _ when host.Contains(':') => null, // IPv6 needs brackets
            _ => IPAddress.TryParse(host, out var ip) ? ip : null,
        };
        if (address is null)
        {
            return false;
        }
        endPoint = new IPEndPoint(address, port);
        return true;
    }

    public int? CpuOrNull => int.TryParse(Cpu, NumberStyles.None, CultureInfo.InvariantCulture, out var cpu) ? cpu : null;
}
