using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

/// <summary>Configuration reloads (the in-memory source fires its token like an edited appsettings.json).</summary>
public class TcpRouteReloadTests
{
    [Theory]
    [MemberData(nameof(TcpRouteForwardingTests.Transports), MemberType = typeof(TcpRouteForwardingTests))]
    public async Task Reload_ClusterDestinationAndRouteSettingsChanged_NewConnectionsUseThemLive(TransportKind transport)
    {
        // Both strip a PROXY v2 header: the route settings and the cluster change are applied at slightly different moments.
        await using var a = new EchoServer("a", stripProxyV2Header: true);
        await using var b = new EchoServer("b", stripProxyV2Header: true);
        var config = new ProxyConfig().Route("r", "c").Cluster("c", null, ("d1", a.Address));
        await using var proxy = await ProxyApp.StartAsync(config, transport);
        using var before = await Net.ConnectAsync(proxy.EndPoint("r"));
        Assert.Equal("a"u8.ToArray(), await Net.RoundTripAsync(before, "a"u8.ToArray()));
        var port = proxy.Port("r");

        proxy.Reload(new ProxyConfig().Route("r", "c", settings: ("ProxyProtocol", "V2")).Cluster("c", null, ("d1", b.Address)));

        await Poll.UntilAsync(async () =>
        {
            using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
            Assert.Equal("b"u8.ToArray(), await Net.RoundTripAsync(client, "b"u8.ToArray()));
            return b.HeaderArrived.Task.IsCompleted;
        }, "a new connection to reach the new destination with a PROXY v2 header");
        Assert.Equal(port, proxy.Port("r"));
        var header = await b.HeaderArrived.Task.DefaultTimeout();
        Assert.Equal(new byte[] { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11 }, header[..14]);
        // The connection made before the reload keeps its backend.
        Assert.Equal("still a"u8.ToArray(), await Net.RoundTripAsync(before, "still a"u8.ToArray()));
        proxy.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task Reload_InvalidRoutes_RejectedWithEveryProblemAndOldSettingsKept()
    {
        await using var echo = new EchoServer();
        var config = new ProxyConfig().Route("r", "c").Cluster("c", null, ("d1", echo.Address));
        await using var proxy = await ProxyApp.StartAsync(config);

        proxy.Reload(config.Clone().Set("ReverseProxy:TcpRoutes:r:Mode", "Turbo").Set("ReverseProxy:TcpRoutes:r:IdleTimeout", "-00:00:01")
            .Route("r2", "missing"));

        var rejected = await proxy.Logs.WaitForAsync(e => e.EventId == 101);
        Assert.Contains("The Mode 'Turbo' set on the TCP route 'r'", rejected.Message);
        Assert.Contains("The ClusterId 'missing' set on the TCP route 'r2'", rejected.Message);
        using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
        Assert.Equal("ok"u8.ToArray(), await Net.RoundTripAsync(client, "ok"u8.ToArray()));
        Assert.Empty(proxy.Logs.WithEventId(102)); // no "route updated"
    }

    [Fact]
    public async Task Reload_RouteAddedOrRemoved_LoggedAsNeedingRestartAndRemovedRouteClosesConnections()
    {
        await using var echo = new EchoServer();
        var config = new ProxyConfig().Route("r", "c").Cluster("c", null, ("d1", echo.Address));
        await using var proxy = await ProxyApp.StartAsync(config);
        var endPoint = proxy.EndPoint("r");

        proxy.Reload(new ProxyConfig().Route("other", "c").Cluster("c", null, ("d1", echo.Address)));

        await proxy.Logs.WaitForAsync(e => e.EventId == 104 && (string?)e.Values["RouteId"] == "other");
        await proxy.Logs.WaitForAsync(e => e.EventId == 105 && (string?)e.Values["RouteId"] == "r");
        using var client = await Net.ConnectAsync(endPoint);
        Assert.True(await Net.ClosedWithinAsync(client, TimeSpan.FromSeconds(5)));
        Assert.Equal(0, echo.Accepted);

        proxy.Reload(config);
        await Poll.UntilAsync(async () =>
        {
            using var again = await Net.ConnectAsync(endPoint);
            await again.SendAsync("x"u8.ToArray()).DefaultTimeout();
            return !await Net.ClosedWithinAsync(again, TimeSpan.FromMilliseconds(300));
        }, "the restored route to forward again");
    }

    [Fact]
    public async Task Reload_RouteMovedToClusterAddedInSameReload_AppliesWithoutError()
    {
        await using var a = new EchoServer("a");
        await using var b = new EchoServer("b");
        await using var proxy = await ProxyApp.StartAsync(new ProxyConfig().Route("r", "c1").Cluster("c1", null, ("d1", a.Address)));

        proxy.Reload(new ProxyConfig().Route("r", "c2").Cluster("c1", null, ("d1", a.Address)).Cluster("c2", null, ("d1", b.Address)));

        await proxy.Logs.WaitForAsync(e => e.EventId == 102);
        using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
        Assert.Equal("b"u8.ToArray(), await Net.RoundTripAsync(client, "b"u8.ToArray()));
        Assert.Equal(1, b.Accepted);
        proxy.Logs.AssertNoErrors();
    }
}
