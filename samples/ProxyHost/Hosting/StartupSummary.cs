using System.Net;
using BpfSteer;
using BpfSteer.Transport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using ProxyHost.Admin;
using ProxyHost.Demo;
using ProxyHost.Status;
using Yarp.ReverseProxy;
using Yarp.SockmapForwarder;

namespace ProxyHost.Hosting;

/// <summary>
/// The block printed once the host listens: what runs where and why, then the addresses to try. Tests and scripts
/// parse the "Listening:" lines (<c>  http URL</c>, <c>  tcp ROUTE ENDPOINT</c>, then <c>  admin URL</c>), so keep
/// their shape; every line of the demo's "Try" block is a shell command that works after the README's install step.
/// </summary>
internal static class StartupSummary
{
    public static void Print(WebApplication app, RouteSource source, DemoBackends? demo, TextWriter output)
    {
        var services = app.Services;
        var transport = services.GetService<IBpfSteerTransportStatus>();
        var forwarder = services.GetService<ISockmapForwarderStatus>();
        var kernel = KernelFeatures.Current;
        var admin = services.GetRequiredService<AdminListener>();
        var adminUrl = admin.BoundUrl!;
        var adminExposed = admin.Url is { IsLoopback: false };
        var proxyHealthPath = services.GetRequiredService<IOptions<AdminOptions>>().Value.ProxyHealthPath;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyHost");
        Log(logger, source, demo, transport, forwarder, kernel);
        if (adminExposed)
        {
            ProxyHostLog.AdminListenerNotLoopback(logger, admin.BoundDescription!, AdminOptions.UrlKey);
        }
        var o = new StringWriter();

        o.WriteLine("BpfSteer ProxyHost");
        o.WriteLine($"  Routes from  {source.Description}");
        o.WriteLine($"  CPUs         {Environment.ProcessorCount} usable by this process");
        if (transport is null)
        {
            o.WriteLine("  Transport    Kestrel's default transport (UseBpfSteeredTransport() not active): no per-CPU workers");
        }
        else
        {
            o.WriteLine($"  Transport    BpfSteer: {transport.Workers.Count} workers on CPUs {string.Join(",", transport.Workers.Select(w => w.Cpu))}");
            o.WriteLine($"  Selector     {(transport.Selector == ReuseportSelector.None ? "NOT attached" : transport.Selector + " attached")}: {transport.SelectorDetail}");
        }
        if (forwarder is null)
        {
            o.WriteLine("  Sockmap      forwarder not registered (AddSockmapForwarder() not called)");
        }
        else
        {
            o.WriteLine($"  Sockmap      {(forwarder.SockmapUsable ? "usable" : "NOT usable, TCP routes use the user-space path")}: {forwarder.SockmapDetail}");
        }
        var kfunc = kernel.RedirectCpuKfunc;
        o.WriteLine($"  kfunc        {KernelFeatures.RedirectCpuKfuncName} {(kfunc.Available ? "present" : "absent")}: {kfunc.Detail}");
        foreach (var cap in new[] { kernel.CapBpf, kernel.CapNetAdmin, kernel.CapPerfmon })
        {
            if (!cap.Available)
            {
                o.WriteLine($"  Capability   {cap.Detail}");
            }
        }

        foreach (var route in services.GetRequiredService<IProxyStateLookup>().GetRoutes())
        {
            var match = route.Config.Match;
            o.WriteLine($"  HTTP route   {route.Config.RouteId}: {match.Path ?? "(any path)"}{(match.Hosts is { Count: > 0 } h ? " on " + string.Join(",", h) : "")} -> cluster {route.Config.ClusterId}");
        }
        foreach (var route in forwarder?.Routes ?? [])
        {
            var (mode, reason) = RouteMode.Resolve(route, forwarder!);
            o.WriteLine($"  TCP route    {route.Id}: {route.Listen}, mode {mode} ({reason}), CPU {(route.Cpu is { } c ? c.ToString() : "any")}");
        }

        var tcpListens = (forwarder?.Routes ?? []).Select(r => r.Listen).ToHashSet();
        var httpUrls = HttpUrls(services, tcpListens, adminUrl);
        o.WriteLine(adminExposed
            ? $"  Admin        {admin.BoundDescription}: status page, JSON, health and metrics, reachable beyond loopback ({AdminOptions.UrlKey})"
            : $"  Admin        {adminUrl}: status page, JSON, health and metrics, loopback only");
        if (proxyHealthPath is not null)
        {
            o.WriteLine($"  Health       {proxyHealthPath} on the proxy's HTTP endpoints too, status word only ({AdminOptions.ProxyHealthPathKey})");
        }
        o.WriteLine("Listening:");
        foreach (var url in httpUrls)
        {
            o.WriteLine($"  http {url}");
        }
        foreach (var route in forwarder?.Routes ?? [])
        {
            o.WriteLine($"  tcp {route.Id} {route.Listen}");
        }
        o.WriteLine($"  admin {adminUrl}");

        if (demo is not null)
        {
            PrintDemoHints(o, httpUrls.FirstOrDefault(), adminUrl, forwarder);
        }
        else
        {
            o.WriteLine($"Admin: {adminUrl}/bpfsteer (page), {adminUrl}/bpfsteer/status (JSON), {adminUrl}{AdminEndpoints.HealthPath}, {adminUrl}{AdminEndpoints.MetricsPath} (Prometheus)");
        }
        o.WriteLine("ProxyHost is ready.");
        output.Write(o.ToString());
        output.Flush();
    }

    private static void Log(ILogger logger, RouteSource source, DemoBackends? demo, IBpfSteerTransportStatus? transport,
        ISockmapForwarderStatus? forwarder, KernelFeatureReport kernel)
    {
        ProxyHostLog.RouteSource(logger, source.Description);
        if (demo is not null)
        {
            ProxyHostLog.DemoBackendsStarted(logger, demo.Http.Address.ToString(), demo.Echo.EndPoint.ToString(), demo.Greeter.EndPoint.ToString());
        }
        if (transport is null)
        {
            ProxyHostLog.NotOnBpfSteer(logger);
        }
        else if (transport.Selector == ReuseportSelector.None)
        {
            ProxyHostLog.SelectorNotAttached(logger, transport.SelectorDetail);
        }
        if (forwarder is { SockmapUsable: false } && forwarder.Routes.Count > 0)
        {
            ProxyHostLog.SockmapNotUsable(logger, forwarder.SockmapDetail);
        }
        foreach (var cap in new[] { kernel.CapBpf, kernel.CapNetAdmin, kernel.CapPerfmon })
        {
            if (!cap.Available)
            {
                ProxyHostLog.CapabilityMissing(logger, cap.Detail);
            }
        }
    }

    // Every line under "Try" is a command a fresh machine runs after eng/install-prereqs.sh (curl, socat); a test runs
    // each against the demo. The page needs a browser, so it is named outside that block.
    private static void PrintDemoHints(StringWriter o, string? url, string adminUrl, ISockmapForwarderStatus? forwarder)
    {
        var echo = forwarder?.Routes.FirstOrDefault(r => r.Id == DemoBackends.EchoClusterId)?.Listen;
        var greeter = forwarder?.Routes.FirstOrDefault(r => r.Id == DemoBackends.GreeterClusterId)?.Listen;
        var commands = new List<(string Command, string Comment)>();
        if (url is not null)
        {
            commands.Add(($"curl {url}/", "HTTP route -> demo HTTP backend"));
        }
        if (echo is not null && IPEndPoint.TryParse(echo, out var e))
        {
            commands.Add(($"echo hello | socat -t5 - TCP:{e}", "TCP route -> echo backend (client speaks first)"));
        }
        if (greeter is not null && IPEndPoint.TryParse(greeter, out var g))
        {
            commands.Add(($"socat - TCP:{g}", "TCP route -> greeter (server speaks first; type, Ctrl-D ends)"));
        }
        commands.Add(($"curl {adminUrl}/bpfsteer/status", "admin listener: status JSON"));
        commands.Add(($"curl {adminUrl}{AdminEndpoints.HealthPath}", "admin listener: health checks"));
        commands.Add(($"curl {adminUrl}{AdminEndpoints.MetricsPath}", "admin listener: Prometheus metrics"));

        o.WriteLine("Try (demo backends run inside this process):");
        var width = commands.Max(c => c.Command.Length) + 2;
        foreach (var (command, comment) in commands)
        {
            o.WriteLine($"  {command.PadRight(width)}# {comment}");
        }
        o.WriteLine($"Open {adminUrl}/bpfsteer in a browser for the live status page.");
        o.WriteLine("Add --ReverseProxy:TcpRoutes:demo-echo:Mode=Sockmap to force the in-kernel path on the echo route.");
    }

    // Kestrel lists every endpoint it bound, the TCP routes' and the admin listener's included; the HTTP ones are the others.
    private static List<string> HttpUrls(IServiceProvider services, HashSet<string> tcpListens, string adminUrl)
    {
        var addresses = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var adminPort = new Uri(adminUrl).Port;
        return addresses
            .Where(a => Uri.TryCreate(a, UriKind.Absolute, out var u) && !tcpListens.Contains($"{u.Host}:{u.Port}") && u.Port != adminPort)
            .Select(a => a.TrimEnd('/'))
            .ToList();
    }
}
