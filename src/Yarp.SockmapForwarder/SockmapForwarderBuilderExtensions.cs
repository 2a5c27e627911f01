using BpfSteer;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.SockmapForwarder;
using Yarp.SockmapForwarder.DataPath;
using Yarp.SockmapForwarder.HttpUpstream;
using Yarp.SockmapForwarder.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers TCP passthrough routes on a YARP reverse proxy.</summary>
public static class SockmapForwarderBuilderExtensions
{
    /// <summary>
    /// Adds the TCP routes declared in the app configuration's <c>ReverseProxy:TcpRoutes</c> section (beside YARP's
    /// <c>Routes</c> and <c>Clusters</c>). Each route listens on its own sockets (one per CPU, declared to Kestrel as an
    /// endpoint) and forwards to a destination of a YARP cluster (<c>tcp://host:port</c> addresses), with YARP's load
    /// balancing, health state and reloads.
    /// </summary>
    /// <remarks>
    /// YARP loads its configuration in <c>app.MapReverseProxy()</c>: call it even when the app has no HTTP routes.
    /// Kestrel ignores URLs once code-defined endpoints exist, so declare HTTP endpoints in <c>Kestrel:Endpoints</c>.
    /// Call <c>ConfigureHttpClient</c> (if used) before this method: the cluster clients are wrapped for TCP health probes.
    /// </remarks>
    public static IReverseProxyBuilder AddSockmapForwarder(this IReverseProxyBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return AddCore(builder, sp => sp.GetRequiredService<IConfiguration>()
            .GetSection(TcpRouteConfigKeys.DefaultProxySection).GetSection(TcpRouteConfigKeys.Section));
    }

    /// <summary>
    /// Adds the TCP routes declared in <paramref name="proxyConfiguration"/>'s <c>TcpRoutes</c> section: pass the same
    /// section given to <c>LoadFromConfig</c>.
    /// </summary>
    public static IReverseProxyBuilder AddSockmapForwarder(this IReverseProxyBuilder builder, IConfiguration proxyConfiguration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(proxyConfiguration);
        return AddCore(builder, _ => proxyConfiguration.GetSection(TcpRouteConfigKeys.Section));
    }

    /// <summary>
    /// On the BpfSteer transport, gives every cluster one upstream connection pool per worker, with its connections
    /// opened, read and written on that worker's CPU, and sends each request through the pool of the worker serving its
    /// downstream connection (options: <c>BpfSteer:HttpUpstream</c>, see <see cref="HttpUpstreamOptions"/>). Cluster
    /// settings and a <see cref="ForwarderHttpClientFactory"/> customisation (e.g. <c>ConfigureHttpClient</c>) apply to
    /// every pool. Off BpfSteer, YARP's clients are unchanged. <see cref="AddSockmapForwarder(IReverseProxyBuilder)"/>
    /// calls it; call it yourself only for an app without TCP routes, after <c>ConfigureHttpClient</c> if used.
    /// </summary>
    public static IReverseProxyBuilder AddPerWorkerHttpUpstream(this IReverseProxyBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(PerWorkerHttpUpstreamMarker)))
        {
            return builder;
        }
        services.AddSingleton<PerWorkerHttpUpstreamMarker>();
        services.AddOptions<HttpUpstreamOptions>().BindConfiguration(HttpUpstreamOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Transient<IStartupFilter, DownstreamWorkerStartupFilter>());
        var existing = services.LastOrDefault(d => d.ServiceType == typeof(IForwarderHttpClientFactory));
        if (existing is null)
        {
            return builder; // YARP not added (AddReverseProxy registers one)
        }
        services.Remove(existing);
        services.Add(ServiceDescriptor.Singleton<IForwarderHttpClientFactory>(sp => new PerWorkerHttpClientFactory(
            Resolve(sp, existing), sp.GetService<IWorkerLoopProvider>(),
            sp.GetRequiredService<IOptions<HttpUpstreamOptions>>(), sp.GetRequiredService<ILogger<PerWorkerHttpClientFactory>>())));
        return builder;
    }

    private static IReverseProxyBuilder AddCore(IReverseProxyBuilder builder, Func<IServiceProvider, IConfiguration> section)
    {
        var services = builder.Services;
        services.AddMetrics();
        services.TryAddSingleton(sp => new TcpRouteConfigSource(section(sp)));
        // One registration owns the data path (DI disposes each factory-made singleton it tracks: two would dispose it twice).
        services.AddOptions<SockmapForwarderOptions>().BindConfiguration(SockmapForwarderOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SockmapForwarderOptions>, SockmapForwarderOptionsValidator>());
        services.TryAddSingleton<ITcpConnectionForwarder>(sp => new DataPathForwarder(sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<IOptions<SockmapForwarderOptions>>().Value));
        services.TryAddSingleton<IDataPathInfo>(sp => new DataPathForwarderInfo((DataPathForwarder)sp.GetRequiredService<ITcpConnectionForwarder>()));
        services.TryAddSingleton<TcpRouteTable>();
        services.TryAddSingleton<DestinationConnector>();
        services.TryAddSingleton<SockmapForwarderMetrics>();
        services.TryAddSingleton<TcpRouteListeners>();
        // Binds the routes' Kestrel endpoints (TcpRouteEndPoint) into their own listeners, beside the app's transports.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConnectionListenerFactory, TcpRouteListenerFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, TcpRouteListenerService>());
        services.TryAddSingleton<ISockmapForwarderStatus, SockmapForwarderStatus>();
        services.TryAddEnumerable(ServiceDescriptor.Transient<IConfigureOptions<KestrelServerOptions>, TcpRouteKestrelSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigChangeListener, TcpRouteConfigChangeListener>());
        builder.AddPerWorkerHttpUpstream(); // before the TCP probe wrapper, which must stay outermost
        DecorateHttpClientFactory(services);
        return builder;
    }

    /// <summary>Wraps the registered cluster client factory (YARP's default or the app's) with the TCP probe client.</summary>
    private static void DecorateHttpClientFactory(IServiceCollection services)
    {
        var existing = services.LastOrDefault(d => d.ServiceType == typeof(IForwarderHttpClientFactory));
        if (existing is null || existing.ImplementationFactory?.Target is TcpProbeFactoryMarker)
        {
            return; // YARP not added (AddReverseProxy registers one), or already wrapped
        }
        services.Remove(existing);
        var marker = new TcpProbeFactoryMarker(existing);
        services.Add(ServiceDescriptor.Singleton<IForwarderHttpClientFactory>(marker.Create));
    }

    private sealed class TcpProbeFactoryMarker(ServiceDescriptor inner)
    {
        public IForwarderHttpClientFactory Create(IServiceProvider sp) => new TcpProbeHttpClientFactory(Resolve(sp, inner));
    }

    /// <summary>The instance a replaced registration would have produced.</summary>
    private static IForwarderHttpClientFactory Resolve(IServiceProvider sp, ServiceDescriptor descriptor)
        => descriptor.ImplementationInstance as IForwarderHttpClientFactory
            ?? descriptor.ImplementationFactory?.Invoke(sp) as IForwarderHttpClientFactory
            ?? (IForwarderHttpClientFactory)ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!);

    /// <summary>Registered once by <see cref="AddPerWorkerHttpUpstream"/> so a second call changes nothing.</summary>
    private sealed class PerWorkerHttpUpstreamMarker;
}
