using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace ProxyHost.Demo;

/// <summary>
/// The demo HTTP backend: a separate minimal ASP.NET app on Kestrel's ordinary Sockets transport, so the proxy in
/// front of it is measured against a plain backend, not against itself.
/// </summary>
internal sealed class DemoHttpBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DemoHttpBackend(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The backend's base address, e.g. http://127.0.0.1:40123/.</summary>
    public Uri Address { get; }

    public static async Task<DemoHttpBackend> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "ProxyHost.DemoHttpBackend" });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));

        var app = builder.Build();
        app.MapGet("/", (HttpContext ctx) =>
            $"Hello from the ProxyHost demo HTTP backend. You reached it through {ctx.Request.Headers["X-Forwarded-Host"]} " +
            $"(the YARP route 'demo-http').\n");
        app.MapGet("/bytes/{count:int}", (int count) => Results.Bytes(new byte[Math.Clamp(count, 0, 64 * 1024 * 1024)], "application/octet-stream"));
        app.MapPost("/echo", async (HttpRequest request, HttpResponse response) =>
        {
            response.ContentType = request.ContentType ?? "application/octet-stream";
            await request.Body.CopyToAsync(response.Body);
        });
        // Any other path: say who answered, so a request the proxy forwarded (e.g. /healthz on the proxy's port, which
        // belongs to the proxied application, not to ProxyHost) is recognisable.
        app.MapFallback((HttpContext ctx) => Results.Text(
            $"The ProxyHost demo HTTP backend has nothing at {ctx.Request.Method} {ctx.Request.Path}; ProxyHost's own pages are on its admin listener.\n",
            statusCode: StatusCodes.Status404NotFound));

        await app.StartAsync(cancellationToken);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DemoHttpBackend(app, new Uri(bound.EndsWith('/') ? bound : bound + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
