using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Adds one Kestrel endpoint per TCP route, whose terminal connection middleware is the route's handler: the route rides on
/// whatever transport the app uses (BpfSteer, or Kestrel's Sockets transport). Runs once, when Kestrel reads its options;
/// invalid TCP route configuration throws here, so the server does not start.
/// </summary>
/// <remarks>
/// Kestrel ignores URLs (ASPNETCORE_URLS, UseUrls) once code-defined endpoints exist: an app with TCP routes declares its
/// HTTP endpoints through <c>Kestrel:Endpoints</c> or <c>ConfigureKestrel</c>.
/// </remarks>
internal sealed class TcpRouteKestrelSetup(TcpRouteTable table, IServiceProvider services, ILogger<TcpRouteKestrelSetup> logger)
    : IConfigureOptions<KestrelServerOptions>
{
    public void Configure(KestrelServerOptions options)
    {
        var routes = table.EnsureLoaded(); // first: configuration errors come before anything else
        if (routes.Count == 0)
        {
            return;
        }
        var configuration = services.GetService<IConfiguration>();
        foreach (var key in (string[])["urls", "http_ports", "https_ports"])
        {
            if (configuration?[key] is { Length: > 0 } urls)
            {
                SockmapForwarderLog.UrlsIgnored(logger, key, urls);
            }
        }
        // Resolved on the first connection, not now: the handler needs YARP's IProxyStateLookup, whose construction
        // (through YARP's cluster change listeners) can resolve IServer, which is what is reading these options.
        var handler = new Lazy<TcpRouteConnectionHandler>(services.GetRequiredService<TcpRouteConnectionHandler>);
        foreach (var route in routes)
        {
            var listen = route.Listen;
            Action<ListenOptions> configure = listenOptions =>
            {
                route.ListenOptions = listenOptions;
                listenOptions.Run(connection => handler.Value.OnConnectedAsync(connection, route));
            };
            switch (listen.Kind)
            {
                case ListenAddressKind.Any:
                    options.ListenAnyIP(listen.Port, configure);
                    break;
                case ListenAddressKind.Localhost:
                    options.ListenLocalhost(listen.Port, configure);
                    break;
                default:
                    options.Listen(new IPEndPoint(listen.Address!, listen.Port), configure);
                    break;
            }
            var config = route.Config;
            SockmapForwarderLog.RouteListening(logger, route.RouteId, listen.ToString(), config.ClusterId, config.Mode);
        }
    }
}
