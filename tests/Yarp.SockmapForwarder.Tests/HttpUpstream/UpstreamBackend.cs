using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests.HttpUpstream;

public enum BackendProtocol
{
    Http1,
    H2c,
    Https,
}

/// <summary>
/// The destination behind the proxy in the HTTP upstream tests: a real Kestrel (Sockets transport) on 127.0.0.1:0 that
/// counts its connections (open now, most at once) and answers what the tests forward: headers, bodies both ways,
/// chunked responses, WebSocket, delays, a reset connection and a "Connection: close" response.
/// </summary>
public sealed class UpstreamBackend : IAsyncDisposable
{
    private int _open;
    private int _maxOpen;
    private int _accepted;
    private int _healthHits;

    private UpstreamBackend(WebApplication app) => App = app;

    public WebApplication App { get; }

    public Uri Url => new(App.Urls.First());

    public int OpenConnections => Volatile.Read(ref _open);

    public int MaxOpenConnections => Volatile.Read(ref _maxOpen);

    public int AcceptedConnections => Volatile.Read(ref _accepted);

    public int HealthHits => Volatile.Read(ref _healthHits);

    /// <param name="protocol">What the endpoint speaks.</param>
    /// <param name="port">0 for any; a fixed port to bring a stopped destination back.</param>
    /// <param name="keepAliveTimeout">Kestrel closes a connection idle this long (a pooled upstream connection).</param>
    public static async Task<UpstreamBackend> StartAsync(BackendProtocol protocol = BackendProtocol.Http1, int port = 0, TimeSpan? keepAliveTimeout = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        UpstreamBackend? backend = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;
            if (keepAliveTimeout is { } idle)
            {
                k.Limits.KeepAliveTimeout = idle;
            }
            k.Listen(IPAddress.Loopback, port, listen =>
            {
                listen.Protocols = protocol switch
                {
                    BackendProtocol.H2c => HttpProtocols.Http2,
                    BackendProtocol.Https => HttpProtocols.Http1AndHttp2,
                    _ => HttpProtocols.Http1,
                };
                if (protocol == BackendProtocol.Https)
                {
                    listen.UseHttps(Tls.Certificate);
                }
                listen.Use(next => async connection =>
                {
                    var b = backend!;
                    Interlocked.Increment(ref b._accepted);
                    var open = Interlocked.Increment(ref b._open);
                    int max;
                    while (open > (max = Volatile.Read(ref b._maxOpen)) && Interlocked.CompareExchange(ref b._maxOpen, open, max) != max)
                    {
                    }
                    try
                    {
                        await next(connection);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref b._open);
                    }
                });
            });
        });
        var app = builder.Build();
        backend = new UpstreamBackend(app);
        app.UseWebSockets();
        Map(app, backend);
        await app.StartAsync().DefaultTimeout();
        return backend;
    }

    private static void Map(WebApplication app, UpstreamBackend backend)
    {
        app.MapGet("/", () => "hello from the backend");
        app.MapGet("/health", () =>
        {
            Interlocked.Increment(ref backend._healthHits);
            return "ok";
        });
        app.MapGet("/protocol", (HttpContext ctx) => ctx.Request.Protocol);
        app.MapGet("/headers", (HttpContext ctx) =>
        {
            ctx.Response.Headers["X-Backend"] = "upstream-backend";
            return string.Join('\n', ctx.Request.Headers.Select(h => $"{h.Key}: {h.Value}"));
        });
        app.MapCommonTestEndpoints(); // /echo, /chunked, /upload, /ws
        app.MapGet("/bytes/{n:int}", (int n) => Results.Bytes(Net.Pattern(n, seed: n), "application/octet-stream"));
        app.MapGet("/delay/{ms:int}", async (int ms) =>
        {
            await Task.Delay(ms);
            return "done";
        });
        // The connection is reset (RST) before any response byte: SO_LINGER 0, then abort.
        app.MapGet("/reset", (HttpContext ctx) =>
        {
            ctx.Features.Get<IConnectionSocketFeature>()!.Socket.LingerState = new LingerOption(true, 0);
            ctx.Abort();
        });
        // A response after which the backend closes the pooled connection.
        app.MapGet("/close", (HttpContext ctx) =>
        {
            ctx.Response.Headers.Connection = "close";
            return "closing";
        });
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync().DefaultTimeout();
        await App.DisposeAsync();
    }
}
