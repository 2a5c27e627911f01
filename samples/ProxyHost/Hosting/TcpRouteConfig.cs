using System.Globalization;
using System.Net;

namespace ProxyHost.Hosting;

/// <summary>
/// ProxyHost's read-only view of one <c>ReverseProxy:TcpRoutes</c> entry, for the start-up summary, doctor and
/// health checks. The forwarder owns the real parsing and validation; this only reads the keys ProxyHost reports on.
/// </summary>
internal sealed record TcpRouteConfig(string Id, string? Listen, string? ClusterId, string? Mode, string? Cpu)
{
    public const string SectionName = "ReverseProxy:TcpRoutes";

    public static IReadOnlyList<TcpRouteConfig> Read(IConfiguration configuration) =>
        configuration.GetSection(SectionName).GetChildren()
            .Select(s => new TcpRouteConfig(s.Key, s["Listen"], s["ClusterId"], s["Mode"], s["Cpu"]))
            .ToList();

    public bool TryGetListenEndPoint(out IPEndPoint endPoint)
    {
        endPoint = null!;
        return Listen is not null && IPEndPoint.TryParse(Listen, out endPoint!);
    }

    public int? CpuOrNull => int.TryParse(Cpu, NumberStyles.None, CultureInfo.InvariantCulture, out var cpu) ? cpu : null;
}
