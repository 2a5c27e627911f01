using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

public class TcpRouteConfigValidationTests
{
    [Fact]
    public void Build_ManyInvalidRoutes_EveryProblemListedInOneError()
    {
        var config = new ProxyConfig()
            .Cluster("tcp", null, ("d1", "tcp://127.0.0.1:1"))
            .Cluster("http", null, ("d1", "http://127.0.0.1:1"))
            .Route("bad-mode", "tcp", settings: [("Mode", "Fast"), ("ConnectTimeout", "soon")])
            .Set("ReverseProxy:TcpRoutes:no-cluster:Listen", "127.0.0.1:0")
            .Route("unknown-cluster", "nope")
            .Route("http-dest", "http")
            .Route("bad-values", "tcp", listen: "not-an-endpoint", settings: [("Cpu", "999"), ("MaxConnections", "0"), ("Sni:0", "bad host!"), ("MaxQueuedBytes", "65536")])
            .Route("typo", "tcp", settings: ("ConectTimeout", "00:00:01"));

        // WebApplication reads the server's features while it is built, so Kestrel's options (and the routes) are read there.
        var ex = Assert.Throws<InvalidOperationException>(() => ProxyApp.Build(config, TransportKind.Sockets, new TestLogSink(), out _));

        string[] expected =
        [
            "The Mode 'Fast' set on the TCP route 'bad-mode' is not one of Auto, Sockmap, UserSpace.",
            "The ConnectTimeout 'soon' set on the TCP route 'bad-mode' is not a time span",
            "The required key 'ClusterId' is missing on the TCP route 'no-cluster'.",
            "The ClusterId 'nope' set on the TCP route 'unknown-cluster' does not name a cluster",
            "The Address 'http://127.0.0.1:1' set on the destination 'd1' of the cluster 'http' (used by the TCP route 'http-dest') is not 'tcp://host:port'.",
            "The Listen 'not-an-endpoint' set on the TCP route 'bad-values'",
            "The Cpu '999' set on the TCP route 'bad-values' does not exist",
            "The MaxConnections '0' set on the TCP route 'bad-values' must be positive",
            "The Sni host 'bad host!' set on the TCP route 'bad-values'",
            "The MaxQueuedBytes '65536' set on the TCP route 'bad-values' is too small to work",
            "The key 'ConectTimeout' set on the TCP route 'typo' is not a TCP route setting",
        ];
        foreach (var message in expected)
        {
            Assert.Contains(message, ex.Message);
        }
        var inner = Assert.IsType<AggregateException>(ex.InnerException);
        Assert.Equal(expected.Length, inner.InnerExceptions.Count);
    }

    [Fact]
    public void Build_RouteWithBadModePortAndCluster_EveryProblemOfTheRouteListed()
    {
        // A syntax problem (Mode) must not hide the route's other problems (Listen port, ClusterId).
        var config = new ProxyConfig()
            .Cluster("tcp", null, ("d1", "tcp://127.0.0.1:1"))
            .Route("r", "nope", listen: "127.0.0.1:99999", settings: ("Mode", "Fast"));

        var ex = Assert.Throws<InvalidOperationException>(() => ProxyApp.Build(config, TransportKind.Sockets, new TestLogSink(), out _));

        string[] expected =
        [
            "The Mode 'Fast' set on the TCP route 'r' is not one of Auto, Sockmap, UserSpace.",
            "The Listen '127.0.0.1:99999' set on the TCP route 'r' has the port 99999; a port is 0 (any free port) to 65535.",
            "The ClusterId 'nope' set on the TCP route 'r' does not name a cluster",
        ];
        foreach (var message in expected)
        {
            Assert.Contains(message, ex.Message);
        }
        Assert.Equal(expected.Length, Assert.IsType<AggregateException>(ex.InnerException).InnerExceptions.Count);
    }

    [Fact]
    public void Build_255Routes_Accepted()
    {
        var app = ProxyApp.Build(ManyRoutes(255), TransportKind.Sockets, new TestLogSink(), out _);
        ((IDisposable)app).Dispose();
    }

    /// <summary>
    /// Route indexes run 0..n-1 and the start-up self-test forwards on the last counter index (255): a 256th route
    /// would count the self-test's bytes and verdict runs as its own.
    /// </summary>
    [Fact]
    public void Build_256Routes_FailsBecauseTheLastCounterIndexIsTheSelfTests()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => ProxyApp.Build(ManyRoutes(256), TransportKind.Sockets, new TestLogSink(), out _));

        Assert.Contains("256 TCP routes are configured; at most 255 are supported.", ex.Message);
    }

    private static ProxyConfig ManyRoutes(int count)
    {
        var config = new ProxyConfig().Cluster("c", null, ("d1", "tcp://127.0.0.1:1"));
        for (var i = 0; i < count; i++)
        {
            config.Route($"r{i}", "c", listen: $"127.0.0.1:{40000 + i}");
        }
        return config;
    }

    [Fact]
    public void Build_DuplicateListenEndpoint_NamesBothRoutes()
    {
        var port = Net.FreePort();
        var config = new ProxyConfig().Cluster("c", null, ("d1", "tcp://127.0.0.1:1"))
            .Route("first", "c", listen: $"127.0.0.1:{port}")
            .Route("second", "c", listen: $"*:{port}");
        var ex = Assert.Throws<InvalidOperationException>(() => ProxyApp.Build(config, TransportKind.Sockets, new TestLogSink(), out _));

        Assert.Contains($"The Listen '*:{port}' set on the TCP route 'second' is also used by the TCP route 'first'.", ex.Message);
    }

    [Fact]
    public async Task Start_UrlsConfigured_WarnsKestrelIgnoresThem()
    {
        await using var echo = new EchoServer();
        var config = new ProxyConfig().Route("r", "c").Cluster("c", null, ("d1", echo.Address));
        await using var proxy = await ProxyApp.StartAsync(config, configure: b => Microsoft.AspNetCore.Hosting.HostingAbstractionsWebHostBuilderExtensions.UseUrls(b.WebHost, "http://127.0.0.1:0"));

        var warning = Assert.Single(proxy.Logs.WithEventId(107));
        Assert.Equal("urls", warning.Values["Key"]);
    }

    [Fact]
    public async Task Connection_MapReverseProxyNotCalled_ClosedAndExplainedOnce()
    {
        await using var echo = new EchoServer();
        var config = new ProxyConfig().Route("r", "c").Cluster("c", null, ("d1", echo.Address));
        await using var proxy = await ProxyApp.StartAsync(config, mapReverseProxy: false);

        for (var i = 0; i < 2; i++)
        {
            using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
            Assert.True(await Net.ClosedWithinAsync(client, TimeSpan.FromSeconds(5)));
        }

        var error = Assert.Single(proxy.Logs.WithEventId(202));
        Assert.Contains("app.MapReverseProxy()", error.Message);
        Assert.Equal(0, echo.Accepted);
    }
}
