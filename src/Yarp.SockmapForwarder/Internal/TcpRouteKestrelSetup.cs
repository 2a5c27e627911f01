using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Declares one Kestrel endpoint per TCP route (a <see cref="TcpRouteEndPoint"/>, bound by <see cref="TcpRouteListenerFactory"/>
/// into the route's own listeners, whichever Kestrel transport the app uses). Runs once, when Kestrel reads its options;
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
        foreach (var route in routes)
        {
            // Kestrel requires a connection delegate; none ever runs (the route's loops own its connections).
            options.Listen(new TcpRouteEndPoint(route, route.Listen.ToString()), listenOptions => listenOptions.Run(static _ => Task.CompletedTask));
            var config = route.Config;
            SockmapForwarderLog.RouteListening(logger, route.RouteId, route.Listen.ToString(), config.ClusterId, config.Mode);
        }
    }
}
