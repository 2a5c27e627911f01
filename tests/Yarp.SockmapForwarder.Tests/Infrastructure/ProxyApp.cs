using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

public enum TransportKind
{
    Sockets,
    BpfSteer,
}

/// <summary>
/// The system under test: a real WebApplication (Kestrel on the chosen transport) with YARP loaded from in-memory
/// configuration and the TCP routes of the same configuration, exactly as an app would write it.
/// </summary>
public sealed class ProxyApp : IAsyncDisposable
{
    private ProxyApp(WebApplication app, TestLogSink logs, ReloadableConfigurationProvider config)
    {
        App = app;
        Logs = logs;
        Config = config;
    }

    public WebApplication App { get; }

    public TestLogSink Logs { get; }

    public ReloadableConfigurationProvider Config { get; }

    public ISockmapForwarderStatus Status => App.Services.GetRequiredService<ISockmapForwarderStatus>();

    public static WebApplication Build(ProxyConfig config, TransportKind transport, TestLogSink logs, out ReloadableConfigurationProvider provider,
        Action<WebApplicationBuilder>? configure = null, bool mapReverseProxy = true)
    {
        var builder = WebApplication.CreateSlimBuilder();
        var source = new ReloadableConfigurationSource(config.Values);
        ((IConfigurationBuilder)builder.Configuration).Add(source);
        provider = source.Provider;
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
        if (transport == TransportKind.BpfSteer)
        {
            builder.WebHost.UseBpfSteeredTransport();
        }
        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddSockmapForwarder();
        configure?.Invoke(builder);
        var app = builder.Build();
        if (mapReverseProxy)
        {
            app.MapReverseProxy();
        }
        return app;
    }

    public static async Task<ProxyApp> StartAsync(ProxyConfig config, TransportKind transport = TransportKind.Sockets, Action<WebApplicationBuilder>? configure = null,
        bool mapReverseProxy = true)
    {
        var logs = new TestLogSink();
        var app = Build(config, transport, logs, out var provider, configure, mapReverseProxy);
        await app.StartAsync().DefaultTimeout();
        return new ProxyApp(app, logs, provider);
    }

    /// <summary>The port Kestrel bound for a route listening on port 0.</summary>
    public int Port(string routeId) => IPEndPoint.Parse(Status.Routes.Single(r => r.Id == routeId).Listen).Port;

    public IPEndPoint EndPoint(string routeId) => new(IPAddress.Loopback, Port(routeId));

    public ClusterState Cluster(string clusterId) =>
        App.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster(clusterId, out var cluster) ? cluster : throw new KeyNotFoundException(clusterId);

    /// <summary>Replaces the whole configuration and fires its reload token (like an edited appsettings.json).</summary>
    public void Reload(ProxyConfig config) => Config.Replace(config.Values);

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync().DefaultTimeout();
        await App.DisposeAsync();
    }
}
