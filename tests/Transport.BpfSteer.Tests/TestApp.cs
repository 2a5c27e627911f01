using System.Net;
using BpfSteer.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// One ASP.NET app, run on BpfSteer or on Kestrel's Sockets transport, bound to 127.0.0.1:0. The endpoints cover what
/// the drop-in tests compare: plaintext, JSON, echo (chunked in and out), big upload/download, WebSocket echo, and the
/// connection's CPU facts.
/// </summary>
public sealed class TestApp : IAsyncDisposable
{
    private TestApp(WebApplication app, ErrorLogCollector errors)
    {
        App = app;
        Errors = errors;
    }

    public WebApplication App { get; }

    public ErrorLogCollector Errors { get; }

    public Uri Address => new(App.Urls.First());

    public int Port => Address.Port;

    public IServiceProvider Services => App.Services;

    /// <param name="logs">Also receives every log entry from Debug up (the default keeps Warning and above).</param>
    public static async Task<TestApp> StartAsync(TransportKind kind, Action<BpfSteerTransportOptions>? configure = null,
        Action<KestrelServerOptions>? kestrel = null, string url = "http://127.0.0.1:0", Action<WebApplicationBuilder>? configureBuilder = null,
        ILoggerProvider? logs = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        configureBuilder?.Invoke(builder);
        var errors = new ErrorLogCollector();
        builder.Logging.ClearProviders().AddProvider(errors).SetMinimumLevel(logs is null ? LogLevel.Warning : LogLevel.Debug);
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }
        if (kind == TransportKind.BpfSteer)
        {
            builder.WebHost.UseBpfSteeredTransport(o => configure?.Invoke(o));
        }
        builder.WebHost.UseKestrel(o =>
        {
            o.Limits.MaxRequestBodySize = null;
            kestrel?.Invoke(o);
        });
        if (kestrel is null)
        {
            builder.WebHost.UseUrls(url);
        }
        builder.Services.AddSingleton<InFlight>();
        var app = builder.Build();
        app.UseWebSockets();
        Map(app);
        await app.StartAsync().DefaultTimeout();
        return new TestApp(app, errors);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync().DefaultTimeout();
        await App.DisposeAsync();
    }

    public static byte[] Pattern(long length)
    {
        var data = new byte[length];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i * 31 + (i >> 8));
        }
        return data;
    }

    private static void Map(WebApplication app)
    {
        app.MapGet("/plaintext", () => Results.Text("Hello, World!"));
        app.MapGet("/json", () => Results.Json(new { message = "Hello, World!" }));
        app.MapCommonTestEndpoints();
        app.MapGet("/download", (long bytes) => Results.Bytes(Pattern(bytes), "application/octet-stream"));
        // Blocks the thread that runs it: on the worker with Inline scheduling (what the watchdog must notice).
        app.MapGet("/block", (int ms) =>
        {
            Thread.Sleep(ms);
            return Results.Text("unblocked");
        });
        app.MapGet("/delay", async (int ms, InFlight inFlight) =>
        {
            Interlocked.Increment(ref inFlight.Started);
            await Task.Delay(ms);
            return Results.Text("done");
        });
        app.MapGet("/peer", (HttpContext ctx) =>
            Results.Text($"{ctx.Connection.LocalIpAddress}:{ctx.Connection.LocalPort} {ctx.Connection.RemoteIpAddress}:{ctx.Connection.RemotePort} {ctx.Connection.Id}"));
        app.MapGet("/thread", (HttpContext ctx) =>
        {
            var f = ctx.Features.Get<IBpfSteerConnectionFeature>();
            return Results.Text($"{Thread.CurrentThread.Name ?? "-"}|{(global::BpfSteer.Interop.CpuAffinity.CurrentCpu())}|{f?.WorkerCpu}\n");
        });
        app.MapGet("/conn", (HttpContext ctx) =>
        {
            var f = ctx.Features.Get<IBpfSteerConnectionFeature>();
            return Results.Text(f is null ? "none" : $"{f.WorkerCpu} {f.IncomingCpu} {f.SocketCookie}");
        });
        _ = IPAddress.Loopback;
        _ = typeof(IHttpConnectionFeature);
    }
}
