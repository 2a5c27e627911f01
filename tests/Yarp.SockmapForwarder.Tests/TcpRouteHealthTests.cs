using System.Net;
using System.Net.Sockets;
using Yarp.ReverseProxy.Model;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

/// <summary>YARP's active health monitor probing tcp:// destinations with TCP connects, and its state steering the route.</summary>
public class TcpRouteHealthTests
{
    [Fact]
    public async Task ActiveHealth_TcpConnectProbes_MarkDownDestinationUnhealthyThenHealthyAgain()
    {
        await using var up = new EchoServer();
        var downPort = Net.ClosedPort();
        var config = new ProxyConfig().Route("r", "c")
            .Cluster("c", "FirstAlphabetical", ("a-down", ProxyConfig.Tcp(downPort)), ("b-up", up.Address))
            .Set("ReverseProxy:Clusters:c:HealthCheck:Active:Enabled", "true")
            .Set("ReverseProxy:Clusters:c:HealthCheck:Active:Interval", "00:00:00.500")
            .Set("ReverseProxy:Clusters:c:HealthCheck:Active:Timeout", "00:00:01")
            .Set("ReverseProxy:Clusters:c:HealthCheck:Active:Policy", "ConsecutiveFailures")
            .Set("ReverseProxy:Clusters:c:Metadata:ConsecutiveFailuresHealthPolicy.Threshold", "1");
        await using var proxy = await ProxyApp.StartAsync(config);
        using var metrics = new MetricsReader(proxy);
        var cluster = proxy.Cluster("c");

        // YARP writes each destination's health, then recomputes the cluster's available list: wait for both.
        await Poll.UntilAsync(() => cluster.Destinations["a-down"].Health.Active == DestinationHealth.Unhealthy
            && cluster.Destinations["b-up"].Health.Active == DestinationHealth.Healthy
            && cluster.DestinationsState.AvailableDestinations.Select(d => d.DestinationId).SequenceEqual(["b-up"]),
            "probes to mark a-down unhealthy and b-up healthy, and YARP to leave a-down out of the available destinations");

        // FirstAlphabetical would pick a-down first; health keeps it out, so no connect attempt fails.
        using (var client = await Net.ConnectAsync(proxy.EndPoint("r")))
        {
            Assert.Equal("x"u8.ToArray(), await Net.RoundTripAsync(client, "x"u8.ToArray()));
        }
        Assert.Equal(0, metrics.Read("yarp.sockmap.tcp.connect_failures", "route=r"));

        using var revived = new TcpListener(IPAddress.Loopback, downPort);
        revived.Start();
        await Poll.UntilAsync(() => cluster.Destinations["a-down"].Health.Active == DestinationHealth.Healthy, "a-down to be probed healthy again");
    }

    [Fact]
    public async Task ActiveHealth_HttpCluster_StillProbedOverHttp()
    {
        // The probe client wraps YARP's cluster clients: http:// destinations keep their ordinary HTTP probes.
        await using var web = await HttpBackend.StartAsync();
        var httpAddress = web.Url.ToString();

        await using var echo = new EchoServer();
        var config = new ProxyConfig().Route("r", "tcp").Cluster("tcp", null, ("d1", echo.Address))
            .Cluster("web", null, ("w1", httpAddress))
            .Set("ReverseProxy:Clusters:web:HealthCheck:Active:Enabled", "true")
            .Set("ReverseProxy:Clusters:web:HealthCheck:Active:Interval", "00:00:00.500")
            .Set("ReverseProxy:Clusters:web:HealthCheck:Active:Path", "/health");
        await using var proxy = await ProxyApp.StartAsync(config);

        await Poll.UntilAsync(() => proxy.Cluster("web").Destinations["w1"].Health.Active == DestinationHealth.Healthy, "the HTTP destination probed healthy");
        Assert.True(web.HealthHits > 0);
    }
}
