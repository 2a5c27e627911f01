using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ProxyHost.Health;
using ProxyHost.Status;

namespace ProxyHost.Admin;

/// <summary>
/// The admin listener's registration and its endpoints: <c>/bpfsteer</c>, <c>/bpfsteer/status</c>, <c>/healthz</c> and
/// <c>/metrics</c>, nothing else, and only there. The proxy's own endpoints keep every path for the proxied routes,
/// except the optional <see cref="AdminOptions.ProxyHealthPath"/>.
/// </summary>
internal static class AdminEndpoints
{
    public const string MetricsPath = "/metrics";
    public const string HealthPath = "/healthz";

    /// <summary>Binds <see cref="AdminOptions"/>, adds the Kestrel endpoint and the matcher policy that keeps it apart.</summary>
    public static IServiceCollection AddAdminListener(this IServiceCollection services)
    {
        services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>());
        services.TryAddSingleton<AdminListener>();
        services.AddSingleton<IConfigureOptions<KestrelServerOptions>>(sp => sp.GetRequiredService<AdminListener>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, AdminListenerMatcherPolicy>());
        return services;
    }

    /// <summary>Maps the admin endpoints (admin listener only) and, when configured, the proxy-port health path.</summary>
    public static WebApplication MapAdminEndpoints(this WebApplication app)
    {
        var admin = app.MapGroup("").WithMetadata(AdminListenerMetadata.Instance);
        admin.MapBpfSteerStatus();
        admin.MapHealthChecks(HealthPath, new() { ResponseWriter = HealthResponseWriter.WriteAsync });
        admin.MapPrometheusScrapingEndpoint(MetricsPath);

        // Opt-in, for balancers that probe the port they balance: the same checks, the status word only (no details
        // about routes and backends on a client-facing port). A literal path outranks YARP's {**catch-all}.
        if (app.Services.GetRequiredService<IOptions<AdminOptions>>().Value.ProxyHealthPath is { } path)
        {
            app.MapHealthChecks(path).WithDisplayName("Health for load balancers (proxy endpoints)");
        }
        return app;
    }
}
