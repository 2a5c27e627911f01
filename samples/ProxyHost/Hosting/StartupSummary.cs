using System.Net;
using BpfSteer;
using BpfSteer.Transport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using ProxyHost.Demo;
using ProxyHost.Status;
using Yarp.ReverseProxy;
using Yarp.SockmapForwarder;

namespace ProxyHost.Hosting;

/// <summary>
/// The block printed once the host listens: what runs where and why, then the addresses to try. Tests and scripts
/// parse the "Listening:" lines (<c>  http URL</c> and <c>  tcp ROUTE ENDPOINT</c>), so keep their shape.
/// </summary>
internal static class StartupSummary
{
    public static void Print(WebApplication app, RouteSource source, DemoBackends? demo, TextWriter output)
    {
        var services = app.Services;
        var transport = services.GetService<IBpfSteerTransportStatus>();
        var forwarder = services.GetService<ISockmapForwarderStatus>();
        var kernel = KernelFeatures.Current;
        Log(services.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyHost"), source, demo, transport, forwarder, kernel);
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
            var (mode, reason) = RouteMode.Resolve(route, forwarder!, RouteMode.AutoAllowsSockmap(services));
            o.WriteLine($"  TCP route    {route.Id}: {route.Listen}, mode {mode} ({reason}), CPU {(route.Cpu is { } c ? c.ToString() : "any")}");
        }

        var tcpListens = (forwarder?.Routes ?? []).Select(r => r.Listen).ToHashSet();
        var httpUrls = HttpUrls(services, tcpListens);
        o.WriteLine("Listening:");
        foreach (var url in httpUrls)
        {
            o.WriteLine($"  http {url}");
        }
        foreach (var route in forwarder?.Routes ?? [])
        {
            o.WriteLine($"  tcp {route.Id} {route.Listen}");
        }

        if (demo is not null)
        {
            PrintDemoHints(o, httpUrls.FirstOrDefault(), forwarder);
        }
        else if (httpUrls.FirstOrDefault() is { } url)
        {
            o.WriteLine($"Status: {url}/bpfsteer (page), {url}/bpfsteer/status (JSON), {url}/healthz");
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

    private static void PrintDemoHints(StringWriter o, string? url, ISockmapForwarderStatus? forwarder)
    {
        var echo = forwarder?.Routes.FirstOrDefault(r => r.Id == DemoBackends.EchoClusterId)?.Listen;
        var greeter = forwarder?.Routes.FirstOrDefault(r => r.Id == DemoBackends.GreeterClusterId)?.Listen;
        o.WriteLine("Try (demo backends run inside this process):");
        if (url is not null)
        {
            o.WriteLine($"  curl {url}/                      # HTTP route -> demo HTTP backend");
        }
        if (echo is not null && IPEndPoint.TryParse(echo, out var e))
        {
            o.WriteLine($"  echo hello | nc -q1 {e.Address} {e.Port}      # TCP route -> echo backend (client speaks first)");
        }
        if (greeter is not null && IPEndPoint.TryParse(greeter, out var g))
        {
            o.WriteLine($"  nc {g.Address} {g.Port}                       # TCP route -> greeter (server speaks first)");
        }
        if (url is not null)
        {
            o.WriteLine($"  open {url}/bpfsteer   curl {url}/bpfsteer/status   curl {url}/healthz");
        }
        o.WriteLine("  add --ReverseProxy:TcpRoutes:demo-echo:Mode=Sockmap to force the in-kernel path on the echo route");
    }

    // Kestrel lists every endpoint it bound, the TCP routes' included; the HTTP ones are the others.
    private static List<string> HttpUrls(IServiceProvider services, HashSet<string> tcpListens)
    {
        var addresses = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        return addresses
            .Where(a => Uri.TryCreate(a, UriKind.Absolute, out var u) && !tcpListens.Contains($"{u.Host}:{u.Port}"))
            .Select(a => a.TrimEnd('/'))
            .ToList();
    }
}
