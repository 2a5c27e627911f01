using System.Net;
using System.Net.Sockets;

namespace ProxyHost.Hosting;

/// <summary>
/// Gives TCP routes declared with port 0 a concrete free port before the forwarder binds them, so the start-up
/// summary, the status page and the route's own Listen value all name the same, dialable endpoint.
/// </summary>
internal static class TcpListenPorts
{
    public static void ResolvePortZero(ConfigurationManager configuration)
    {
        var resolved = new Dictionary<string, string?>();
        foreach (var route in TcpRouteConfig.Read(configuration))
        {
            if (route.TryGetListenEndPoint(out var endPoint) && endPoint.Port == 0)
            {
                resolved[$"{TcpRouteConfig.SectionName}:{route.Id}:Listen"] = new IPEndPoint(endPoint.Address, FreePort(endPoint.Address)).ToString();
            }
        }
        if (resolved.Count > 0)
        {
            configuration.AddInMemoryCollection(resolved);
        }
    }

    // The kernel picks the port; the socket is closed straight away. Another process could take it in between, in
    // which case the route fails to bind with "address in use" naming it — acceptable for port-0 (demo/test) routes.
    private static int FreePort(IPAddress address)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
