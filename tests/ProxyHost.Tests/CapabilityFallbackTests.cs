using System.Text;
using System.Text.Json;
using ProxyHost.Tests.Infrastructure;

namespace ProxyHost.Tests;

/// <summary>ProxyHost without CAP_BPF/CAP_NET_ADMIN (capabilities dropped with setpriv): it falls back and says why.</summary>
[Collection(ProxyHostCollection.Name)]
public sealed class CapabilityFallbackTests
{
    [Fact]
    public async Task Start_CapabilitiesDropped_TcpRoutesFallBackToUserSpaceStillForwardAndSayWhy()
    {
        await using var host = await ProxyHostProcess.StartAsync([], Capabilities.DropAll);
        Assert.Equal(0UL, Capabilities.Effective(host.Pid));

        Assert.Contains("Sockmap      NOT usable, TCP routes use the user-space path", host.Output);
        Assert.Contains("Capability   CAP_BPF is missing", host.Output);

        // Still a working proxy, on the user-space path: both demo TCP routes and the HTTP route.
        await Clients.EchoThroughAsync(host.TcpRoutes["demo-echo"], 256 * 1024);
        var greeting = Encoding.ASCII.GetBytes("220 bpfsteer demo greeter ready\r\n");
        await Clients.EchoThroughAsync(host.TcpRoutes["demo-greeter"], 4096, greeting.Length, greeting);
        Assert.StartsWith("Hello from the ProxyHost demo HTTP backend.", await Clients.CurlAsync(host.HttpUrl + "/"));

        var status = await Clients.WaitForStatusAsync(host.AdminUrl,
            s => DemoDefaultTests.Counter(Clients.Route(s, "demo-echo"), "bytesBackendToClient") >= 256 * 1024,
            "the user-space echo route's bytes");
        foreach (var route in status.GetProperty("routes").EnumerateArray())
        {
            Assert.Equal("UserSpace", route.GetProperty("mode").GetString());
            Assert.False(string.IsNullOrWhiteSpace(route.GetProperty("modeReason").GetString()));
        }
        var kernel = status.GetProperty("kernel");
        Assert.False(kernel.GetProperty("capBpf").GetBoolean());
        Assert.Contains("CAP_BPF", kernel.GetProperty("capBpfReason").GetString());
        Assert.False(kernel.GetProperty("sockmap").GetBoolean());
        Assert.False(status.GetProperty("forwarder").GetProperty("sockmapUsable").GetBoolean());

        // Degraded, not Unhealthy: every route still serves (200), and the reason is in the body.
        using var health = JsonDocument.Parse(await Clients.CurlAsync(host.AdminUrl + "/healthz"));
        Assert.Equal("Degraded", health.RootElement.GetProperty("checks").GetProperty("bpf").GetProperty("status").GetString());
        Assert.Contains("Sockmap is not usable", health.RootElement.GetProperty("checks").GetProperty("bpf").GetProperty("description").GetString());
        host.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Start_CapabilitiesDropped_InteractiveRoundTripsOnUserSpacePathArePrompt()
    {
        await using var host = await ProxyHostProcess.StartAsync([], Capabilities.DropAll);

        // Interactive traffic, not only bulk transfers: the fallback must serve a chatty client (Redis, a shell) too.
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var slowest = await Clients.PingPongAsync(host.TcpRoutes["demo-echo"], rounds: 50);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"50 round trips of 100 bytes took {sw.Elapsed} (slowest {slowest}) on the user-space path");
    }

    [Fact]
    public async Task Start_NonRootWithCapBpfNetAdminAndPerfmon_SelectorAttachedAndSockmapUsable()
    {
        await using var host = await ProxyHostProcess.StartAsync([], Capabilities.NobodyWithBpfNetAdminAndPerfmon);
        const ulong caps = (1UL << 39) | (1UL << 12) | (1UL << 38);
        Assert.Equal(caps, Capabilities.Effective(host.Pid));

        Assert.Contains("Selector     Cbpf attached", host.Output);
        Assert.Contains("Sockmap      usable", host.Output);
        await Clients.EchoThroughAsync(host.TcpRoutes["demo-echo"], 64 * 1024);
    }

    [Fact]
    public async Task Start_NonRootWithoutCapPerfmon_SockmapNotUsableNamingItAndRoutesStillForward()
    {
        // Without CAP_PERFMON the verdict could not cut overlapping retransmissions (forwarded twice): no sockmap path.
        await using var host = await ProxyHostProcess.StartAsync([], Capabilities.NobodyWithBpfAndNetAdmin);
        Assert.Equal((1UL << 39) | (1UL << 12), Capabilities.Effective(host.Pid));

        Assert.Contains("Selector     Cbpf attached", host.Output);
        Assert.Contains("Sockmap      NOT usable", host.Output);
        Assert.Contains("Capability   CAP_PERFMON is missing", host.Output);
        await Clients.EchoThroughAsync(host.TcpRoutes["demo-echo"], 64 * 1024);
    }
}
