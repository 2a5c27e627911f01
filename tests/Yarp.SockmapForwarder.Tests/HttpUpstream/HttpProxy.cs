using System.Net.Http;
using BpfSteer.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests.HttpUpstream;

/// <summary>
/// A YARP HTTP reverse proxy (one catch-all route to the cluster "backend") as an app writes it — AddReverseProxy,
/// LoadFromConfig, optionally ConfigureHttpClient, AddSockmapForwarder — on Kestrel's Sockets transport or on
/// BpfSteer, plus what the tests read: its address, an HTTP client for it and the transport's per-worker counters.
/// </summary>
public sealed class HttpProxy : IAsyncDisposable
{
    private HttpProxy(WebApplication app, TestLogSink logs, TransportKind transport)
    {
        App = app;
        Logs = logs;
        Transport = transport;
        Client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }

    public TestLogSink Logs { get; }

    public TransportKind Transport { get; }

    public Uri Address => new(App.Urls.First());

    public HttpClient Client { get; }

    /// <summary>The transport's workers (BpfSteer only).</summary>
    public IReadOnlyList<BpfSteerWorkerStatus> Workers => App.Services.GetRequiredService<IBpfSteerTransportStatus>().Workers;

    /// <summary>Upstream connections open in the per-worker pools, over every worker.</summary>
    public long UpstreamOpenConnections => Workers.Sum(w => w.UpstreamOpenConnections);

    public ClusterState Cluster(string clusterId) =>
        App.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster(clusterId, out var cluster) ? cluster : throw new KeyNotFoundException(clusterId);

    /// <summary>A config with the catch-all route and a cluster "backend" with <paramref name="destinations"/>.</summary>
    public static ProxyConfig Config(params Uri[] destinations)
    {
        var config = new ProxyConfig()
            .Set("Kestrel:Endpoints:Http:Url", "http://127.0.0.1:0")
            .Set("ReverseProxy:Routes:all:ClusterId", "backend")
            .Set("ReverseProxy:Routes:all:Match:Path", "{**catch-all}");
        for (var i = 0; i < destinations.Length; i++)
        {
            config.Set($"ReverseProxy:Clusters:backend:Destinations:d{i}:Address", destinations[i].ToString());
        }
        return config;
    }

    /// <param name="config">The app configuration.</param>
    /// <param name="transport">The Kestrel transport.</param>
    /// <param name="configureHttpClient">YARP's ConfigureHttpClient callback, registered before AddSockmapForwarder as documented.</param>
    public static async Task<HttpProxy> StartAsync(ProxyConfig config, TransportKind transport = TransportKind.BpfSteer,
        Action<Yarp.ReverseProxy.Forwarder.ForwarderHttpClientContext, SocketsHttpHandler>? configureHttpClient = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(config.Values);
        var logs = new TestLogSink();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
        if (transport == TransportKind.BpfSteer)
        {
            builder.WebHost.UseBpfSteeredTransport();
        }
        var proxy = builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));
        if (configureHttpClient is not null)
        {
            proxy.ConfigureHttpClient(configureHttpClient);
        }
        proxy.AddSockmapForwarder();
        var app = builder.Build();
        app.MapReverseProxy();
        await app.StartAsync().DefaultTimeout();
        return new HttpProxy(app, logs, transport);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync().DefaultTimeout();
        await App.DisposeAsync();
    }
}
