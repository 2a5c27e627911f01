using BpfSteer;
using BpfSteer.Interop;
using BpfSteer.Transport;
using BpfSteer.Transport.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Hosting;

/// <summary><see cref="IWebHostBuilder"/> extensions that make Kestrel use the BpfSteer transport.</summary>
public static class WebHostBuilderBpfSteerExtensions
{
    /// <summary>
    /// Serves IP endpoints with the BpfSteer transport (options bound from <c>BpfSteer:Transport</c>); Unix sockets and
    /// other endpoint kinds stay on Kestrel's Sockets transport. Registers <see cref="IBpfSteerTransportStatus"/>.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">Not running on Linux, or on a processor architecture other than x64 and arm64.</exception>
    public static IWebHostBuilder UseBpfSteeredTransport(this IWebHostBuilder hostBuilder)
    {
        ArgumentNullException.ThrowIfNull(hostBuilder);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The BpfSteer transport needs Linux (SO_REUSEPORT groups with BPF selectors, epoll).");
        }
        NativeAbi.ThrowIfUnchecked("The BpfSteer transport");
        return hostBuilder.ConfigureServices((context, services) =>
        {
            services.AddOptions<BpfSteerTransportOptions>().Bind(context.Configuration.GetSection(BpfSteerTransportOptions.SectionName));
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BpfSteerTransportOptions>, BpfSteerTransportOptionsValidator>());
            services.TryAddSingleton<BpfSteerTransportState>();
            services.TryAddSingleton<IBpfSteerTransportStatus>(sp => sp.GetRequiredService<BpfSteerTransportState>());
            services.TryAddSingleton<IWorkerLoopProvider>(sp => sp.GetRequiredService<BpfSteerTransportState>());

            // Kestrel tries factories last-registered first and falls through on CanBind == false, so the Sockets
            // factory must be registered before ours for Unix sockets and file handles to keep working.
            if (!services.Any(d => d.ServiceType == typeof(IConnectionListenerFactory) && d.ImplementationType == typeof(SocketTransportFactory)))
            {
                services.AddSingleton<IConnectionListenerFactory, SocketTransportFactory>();
            }
            if (!services.Any(d => d.ServiceType == typeof(IConnectionListenerFactory) && d.ImplementationFactory?.Method.DeclaringType == typeof(WebHostBuilderBpfSteerExtensions)))
            {
                services.AddSingleton<IConnectionListenerFactory>(CreateFactory);
            }
        });
    }

    /// <summary>As <see cref="UseBpfSteeredTransport(IWebHostBuilder)"/>, then applies <paramref name="configureOptions"/>.</summary>
    public static IWebHostBuilder UseBpfSteeredTransport(this IWebHostBuilder hostBuilder, Action<BpfSteerTransportOptions> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(configureOptions);
        return hostBuilder.UseBpfSteeredTransport().ConfigureServices(services => services.Configure(configureOptions));
    }

    private static IConnectionListenerFactory CreateFactory(IServiceProvider services)
        => !OperatingSystem.IsLinux()
            ? throw new PlatformNotSupportedException("The BpfSteer transport needs Linux.")
            : new BpfSteerTransportFactory(services.GetRequiredService<IOptions<BpfSteerTransportOptions>>(),
               services.GetRequiredService<ILoggerFactory>(),
               services.GetRequiredService<BpfSteerTransportState>(),
               services.GetService<IMemoryPoolFactory<byte>>());
}
