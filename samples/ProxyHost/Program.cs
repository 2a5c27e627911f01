// ProxyHost: YARP on the BpfSteer Kestrel transport, with TCP passthrough routes forwarded in the kernel by sockmap.
//
//   dotnet ProxyHost.dll                      embedded demo: starts demo backends, routes to them, prints what to try
//   dotnet ProxyHost.dll --config FILE        your routes (see appsettings.json for the shape); no demo backends
//   dotnet ProxyHost.dll doctor [--config F]  checks kernel, capabilities, sysctls and the config; exit 1 if broken
//
// Everything else is the usual ASP.NET configuration: --Kestrel:Endpoints:Http:Url=..., environment variables
// (ReverseProxy__TcpRoutes__...), etc. HTTP endpoints go in Kestrel:Endpoints: Kestrel ignores Urls once code defines
// endpoints, and the admin listener and every TCP route are such endpoints.
using Microsoft.Extensions.Configuration.Memory;
using OpenTelemetry.Metrics;
using ProxyHost.Admin;
using ProxyHost.Demo;
using ProxyHost.Doctor;
using ProxyHost.Health;
using ProxyHost.Hosting;
using ProxyHost.Status;

if (args is ["doctor", .. var doctorArgs])
{
    return DoctorCommand.Run(doctorArgs, Console.Out);
}

// The content root is the binary's folder, so what runs does not depend on the directory it is started from.
// Where the routes come from: --config FILE, the usual sources, or — nothing configured — the embedded demo, whose
// backends must run before YARP reads their addresses. A file that is missing or not JSON ends here, in one line.
WebApplicationBuilder builder;
RouteSource routeSource;
try
{
    builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
    builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
    builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = LoggingDefaults.Values });
    routeSource = RouteSource.Apply(builder, args); // after every other source change: the demo source is a one-shot stream
}
catch (Exception ex) when (ConfigFileError.TryDescribe(ex, out var message))
{
    Console.Error.WriteLine($"ProxyHost could not start: {message}");
    return 2;
}
await using var demo = routeSource.IsDemo ? await DemoBackends.StartAsync(CancellationToken.None) : null;
if (demo is not null)
{
    builder.Configuration.AddInMemoryCollection(demo.ConfigurationOverrides());
}

// 1. Kestrel on BpfSteer: one worker thread pinned per CPU, each with its own SO_REUSEPORT listener; a classic-BPF
//    selector hands every new connection to the worker on the CPU that received it. Without the selector (or off
//    Linux) the transport says so in the summary and on /bpfsteer.
builder.WebHost.UseBpfSteeredTransport();

// 2. YARP as usual for HTTP routes, plus ReverseProxy:TcpRoutes: TCP passthrough routes on the same clusters, whose
//    payload the sockmap forwarder moves in the kernel (or in user space when sockmap cannot be used, with the reason).
builder.Services.AddReverseProxy()
    .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
    .AddSockmapForwarder();

// 3. What operators and scripts read — /bpfsteer (live page), /bpfsteer/status (JSON), /healthz and /metrics
//    (Prometheus) — on the admin listener only: its own Kestrel endpoint (BpfSteer:Admin:Url, loopback by default).
//    The proxy's endpoints serve the proxied routes and nothing else.
builder.Services.AddAdminListener();
builder.Services.AddHealthChecks()
    .AddCheck<BpfHealthCheck>("bpf")
    .AddCheck<RouteHealthCheck>("routes");
builder.Services.AddSingleton<StatusSnapshotSource>();
builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
    .AddMeter(PrometheusMeters.Names)
    .AddPrometheusExporter());

WebApplication app;
try
{
    app = builder.Build(); // the forwarder validates every TCP route here and lists all problems at once
}
catch (Exception ex) when (StartupError.IsConfigurationError(ex))
{
    // Invalid routes are the operator's to fix: say which settings, not a stack trace.
    StartupError.Print(ex, Console.Error);
    return 1;
}

app.MapAdminEndpoints();
app.MapReverseProxy();

app.Lifetime.ApplicationStarted.Register(() => StartupSummary.Print(app, routeSource, demo, Console.Out));
try
{
    await app.RunAsync();
}
catch (Exception ex) when (StartupError.IsConfigurationError(ex))
{
    StartupError.Print(ex, Console.Error, app.Services); // e.g. a listen address already in use
    return 1;
}
return 0;
