using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>A real HTTP backend (its own Kestrel on 127.0.0.1:0): "/" greets, "/health" counts probes, "/bytes/{n}" sends n bytes.</summary>
public sealed class HttpBackend : IAsyncDisposable
{
    private int _healthHits;

    private HttpBackend(WebApplication app) => App = app;

    public WebApplication App { get; }

    public Uri Url => new(App.Urls.First());

    public int Port => Url.Port;

    public int HealthHits => Volatile.Read(ref _healthHits);

    public static async Task<HttpBackend> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var backend = new HttpBackend(app);
        app.MapGet("/", () => "hello from the backend");
        app.MapGet("/health", () =>
        {
            Interlocked.Increment(ref backend._healthHits);
            return "ok";
        });
        app.MapGet("/bytes/{n:int}", (int n) => Results.Bytes(Net.Pattern(n, seed: n), "application/octet-stream"));
        await app.StartAsync().DefaultTimeout();
        return backend;
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync().DefaultTimeout();
        await App.DisposeAsync();
    }
}
