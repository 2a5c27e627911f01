using System.Collections.Concurrent;
using System.Net;
using BpfSteer.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ProxyHost.Tests.Infrastructure;

/// <summary>
/// The application behind the proxy, owned by the test: answers every method and path with "backend saw METHOD PATH"
/// and records each path, so a test can tell a forwarded request from one ProxyHost answered itself.
/// </summary>
public sealed class RecordingHttpBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RecordingHttpBackend(WebApplication app, string address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>e.g. http://127.0.0.1:40123</summary>
    public string Address { get; }

    public ConcurrentQueue<string> Paths { get; } = new();

    public static async Task<RecordingHttpBackend> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        RecordingHttpBackend? self = null;
        app.Run(ctx =>
        {
            self!.Paths.Enqueue(ctx.Request.Path);
            return ctx.Response.WriteAsync($"backend saw {ctx.Request.Method} {ctx.Request.Path}");
        });
        await app.StartAsync().DefaultTimeout();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        self = new RecordingHttpBackend(app, address);
        return self;
    }

    /// <summary>A ProxyHost configuration: one HTTP endpoint on a free loopback port, a catch-all route to this backend.</summary>
    public string CatchAllConfig() => $$"""
        {
          "Kestrel": { "Endpoints": { "Http": { "Url": "http://127.0.0.1:0" } } },
          "ReverseProxy": {
            "Routes": { "app": { "ClusterId": "app", "Match": { "Path": "{**catch-all}" } } },
            "Clusters": { "app": { "Destinations": { "d1": { "Address": "{{Address}}/" } } } }
          }
        }
        """;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().DefaultTimeout();
        await _app.DisposeAsync();
    }
}
