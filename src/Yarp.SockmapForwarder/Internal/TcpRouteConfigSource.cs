using Microsoft.Extensions.Configuration;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>The <c>TcpRoutes</c> section the forwarder reads (and watches for reloads).</summary>
internal sealed class TcpRouteConfigSource(IConfiguration tcpRoutesSection)
{
    public IConfiguration Section { get; } = tcpRoutesSection;
}
