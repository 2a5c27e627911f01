using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

/// <summary>A TCP route end to end: real Kestrel, real YARP config, real backends on loopback, on both transports.</summary>
public class TcpRouteForwardingTests
{
    public static TheoryData<TransportKind> Transports => [TransportKind.Sockets, TransportKind.BpfSteer];

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task TcpRoute_EchoBackend_BytesRoundTripAndAccessLogged(TransportKind transport)
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyApp.StartAsync(new ProxyConfig().Route("r", "c").Cluster("c", null, ("d1", echo.Address)), transport);
        using var metrics = new MetricsReader(proxy);

        using (var client = await Net.ConnectAsync(proxy.EndPoint("r")))
        {
            var data = Net.Pattern(256 * 1024);
            var receive = Net.ReceiveExactlyAsync(client, data.Length);
            await client.SendAsync(data, SocketFlags.None).DefaultTimeout();
            Assert.Equal(data, await receive);
            client.Shutdown(SocketShutdown.Send);
            Assert.True(await Net.ClosedWithinAsync(client, TimeSpan.FromSeconds(10)));
        }

        var line = await proxy.Logs.WaitForAsync(e => e.EventId == 207);
        Assert.Equal("r", line.Values["RouteId"]);
        Assert.Equal("d1", line.Values["DestinationId"]);
        Assert.Equal(256L * 1024, line.Values["BytesClientToBackend"]);
        Assert.Equal(256L * 1024, line.Values["BytesBackendToClient"]);
        Assert.Equal(1, metrics.Read("yarp.sockmap.tcp.connections", "route=r"));
        Assert.Equal(256L * 1024, metrics.Read("yarp.sockmap.tcp.bytes", "direction=client_to_backend,route=r"));
        Assert.Equal(256L * 1024, metrics.Read("yarp.sockmap.tcp.bytes", "direction=backend_to_client,route=r"));
        await Poll.UntilAsync(() => metrics.Read("yarp.sockmap.tcp.connections.active", "route=r") == 0, "active connections back to 0");
        var status = proxy.Status.Routes.Single();
        Assert.Equal(1, status.TotalConnections);
        Assert.Equal(256L * 1024, status.BytesClientToBackend);
        proxy.Logs.AssertNoErrors();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task TcpRoute_FirstDestinationDown_NextDestinationUsedAndPassiveHealthMarked(TransportKind transport)
    {
        await using var echo = new EchoServer();
        var config = new ProxyConfig().Route("r", "c")
            .Cluster("c", "FirstAlphabetical", ("a-down", ProxyConfig.Tcp(Net.ClosedPort())), ("b-up", echo.Address))
            .Set("ReverseProxy:Clusters:c:HealthCheck:Passive:Enabled", "true")
            .Set("ReverseProxy:Clusters:c:HealthCheck:Passive:ReactivationPeriod", "00:05:00");
        await using var proxy = await ProxyApp.StartAsync(config, transport);
        using var metrics = new MetricsReader(proxy);

        for (var i = 0; i < 3; i++)
        {
            using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
            Assert.Equal("hello"u8.ToArray(), await Net.RoundTripAsync(client, "hello"u8.ToArray()));
            if (i == 0)
            {
                // YARP recomputes the available destinations on the thread pool after SetPassive.
                await Poll.UntilAsync(() => proxy.Cluster("c").DestinationsState.AvailableDestinations.All(d => d.DestinationId != "a-down"),
                    "a-down to leave the available destinations");
            }
        }

        Assert.Equal(3, echo.Accepted);
        // One failed attempt: the failure marked a-down unhealthy (passive), so later connections skip it.
        Assert.Equal(1, metrics.Read("yarp.sockmap.tcp.connect_failures", "route=r"));
        Assert.Equal(Yarp.ReverseProxy.Model.DestinationHealth.Unhealthy, proxy.Cluster("c").Destinations["a-down"].Health.Passive);
        Assert.Contains(proxy.Logs.WithEventId(200), e => (string?)e.Values["DestinationId"] == "a-down");
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task TcpRoute_AllDestinationsDown_ClientClosedPromptlyAndCounted(TransportKind transport)
    {
        var config = new ProxyConfig().Route("r", "c")
            .Cluster("c", "RoundRobin", ("d1", ProxyConfig.Tcp(Net.ClosedPort())), ("d2", ProxyConfig.Tcp(Net.ClosedPort())));
        await using var proxy = await ProxyApp.StartAsync(config, transport);
        using var metrics = new MetricsReader(proxy);

        using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
        // Both connects are refused at once: waiting out a connect timeout (5 s each, 10 s for the two) would miss this.
        Assert.True(await Net.ClosedWithinAsync(client, TimeSpan.FromSeconds(5)), "the client was not closed");

        await Poll.UntilAsync(() => metrics.Read("yarp.sockmap.tcp.rejected", "reason=no-destination,route=r") == 1, "no-destination counted");
        Assert.Equal(2, metrics.Read("yarp.sockmap.tcp.connect_failures", "route=r"));
        var line = await proxy.Logs.WaitForAsync(e => e.EventId == 207);
        Assert.Equal("no-destination", line.Values["CloseReason"]);
        Assert.Single(proxy.Logs.WithEventId(201));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task TcpRoute_ProxyProtocolV1_BackendReceivesExactHeaderFirst(TransportKind transport)
    {
        await using var backend = new HeaderCapturingBackend();
        await using var proxy = await ProxyApp.StartAsync(new ProxyConfig().Route("r", "c", settings: ("ProxyProtocol", "V1"))
            .Cluster("c", null, ("d1", backend.Address)), transport);

        using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
        await client.SendAsync("payload"u8.ToArray(), SocketFlags.None).DefaultTimeout();
        var local = (IPEndPoint)client.LocalEndPoint!;
        var expected = Encoding.ASCII.GetBytes($"PROXY TCP4 127.0.0.1 127.0.0.1 {local.Port} {proxy.Port("r")}\r\n");

        var received = await backend.ReceiveAsync(expected.Length + "payload".Length);
        Assert.Equal([.. expected, .. "payload"u8.ToArray()], received);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task TcpRoute_ProxyProtocolV2_BackendReceivesExactHeaderFirst(TransportKind transport)
    {
        await using var backend = new HeaderCapturingBackend();
        await using var proxy = await ProxyApp.StartAsync(new ProxyConfig().Route("r", "c", settings: ("ProxyProtocol", "V2"))
            .Cluster("c", null, ("d1", backend.Address)), transport);

        using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
        await client.SendAsync("payload"u8.ToArray(), SocketFlags.None).DefaultTimeout();
        var clientPort = ((IPEndPoint)client.LocalEndPoint!).Port;
        var routePort = proxy.Port("r");
        byte[] expected =
        [
            0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C,
            127, 0, 0, 1, 127, 0, 0, 1,
            (byte)(clientPort >> 8), (byte)clientPort, (byte)(routePort >> 8), (byte)routePort,
            .. "payload"u8.ToArray(),
        ];

        Assert.Equal(expected, await backend.ReceiveAsync(expected.Length));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task TcpRoute_IdleTimeout_ClosesIdleConnection(TransportKind transport)
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyApp.StartAsync(new ProxyConfig().Route("r", "c", settings: ("IdleTimeout", "00:00:01"))
            .Cluster("c", null, ("d1", echo.Address)), transport);

        using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
        Assert.Equal("x"u8.ToArray(), await Net.RoundTripAsync(client, "x"u8.ToArray()));
        var watch = Stopwatch.StartNew();

        Assert.True(await Net.ClosedWithinAsync(client, TimeSpan.FromSeconds(10)), "the idle connection was not closed");
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(0.8), $"closed as idle after {watch.Elapsed} of a 1 s timeout");
        var line = await proxy.Logs.WaitForAsync(e => e.EventId == 207);
        Assert.Contains("idle", (string)line.Values["CloseReason"]!);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task TcpRoute_MaxConnectionsReached_ExtraConnectionClosedUntilOneEnds(TransportKind transport)
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyApp.StartAsync(new ProxyConfig().Route("r", "c", settings: ("MaxConnections", "2"))
            .Cluster("c", null, ("d1", echo.Address)), transport);
        using var metrics = new MetricsReader(proxy);

        var first = await Net.ConnectAsync(proxy.EndPoint("r"));
        using var second = await Net.ConnectAsync(proxy.EndPoint("r"));
        Assert.Equal("1"u8.ToArray(), await Net.RoundTripAsync(first, "1"u8.ToArray()));
        Assert.Equal("2"u8.ToArray(), await Net.RoundTripAsync(second, "2"u8.ToArray()));

        using (var third = await Net.ConnectAsync(proxy.EndPoint("r")))
        {
            Assert.True(await Net.ClosedWithinAsync(third, TimeSpan.FromSeconds(5)), "the connection over the limit stayed open");
        }
        Assert.Equal(1, metrics.Read("yarp.sockmap.tcp.rejected", "reason=max-connections,route=r"));
        Assert.Equal(2, echo.Accepted);

        first.Dispose();
        await Poll.UntilAsync(() => proxy.Status.Routes.Single().ActiveConnections == 1, "the closed connection to leave the count");
        using var fourth = await Net.ConnectAsync(proxy.EndPoint("r"));
        Assert.Equal("4"u8.ToArray(), await Net.RoundTripAsync(fourth, "4"u8.ToArray()));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task TcpRoute_LeastRequests_BalancesByActiveConnections(TransportKind transport)
    {
        await using var a = new EchoServer("a");
        await using var b = new EchoServer("b");
        await using var proxy = await ProxyApp.StartAsync(new ProxyConfig().Route("r", "c")
            .Cluster("c", "LeastRequests", ("a", a.Address), ("b", b.Address)), transport);

        var clients = new List<Socket>();
        for (var i = 0; i < 4; i++)
        {
            var client = await Net.ConnectAsync(proxy.EndPoint("r"));
            Assert.Equal("x"u8.ToArray(), await Net.RoundTripAsync(client, "x"u8.ToArray()));
            clients.Add(client);
        }

        Assert.Equal(2, a.Accepted);
        Assert.Equal(2, b.Accepted);
        var cluster = proxy.Cluster("c");
        Assert.Equal(2, cluster.Destinations["a"].ConcurrentRequestCount);
        Assert.Equal(2, cluster.Destinations["b"].ConcurrentRequestCount);
        clients.ForEach(c => c.Dispose());
        await Poll.UntilAsync(() => cluster.Destinations.Values.All(d => d.ConcurrentRequestCount == 0), "concurrency counts back to 0");
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("PowerOfTwoChoices")]
    [InlineData("Random")]
    public async Task TcpRoute_LoadBalancingPolicy_SpreadsConnectionsOverDestinations(string policy)
    {
        await using var a = new EchoServer("a");
        await using var b = new EchoServer("b");
        await using var proxy = await ProxyApp.StartAsync(new ProxyConfig().Route("r", "c").Cluster("c", policy, ("a", a.Address), ("b", b.Address)));

        var clients = new List<Socket>();
        for (var i = 0; i < 20; i++)
        {
            var client = await Net.ConnectAsync(proxy.EndPoint("r"));
            Assert.Equal("x"u8.ToArray(), await Net.RoundTripAsync(client, "x"u8.ToArray()));
            clients.Add(client);
        }
        clients.ForEach(c => c.Dispose());

        Assert.Equal(20, a.Accepted + b.Accepted);
        if (policy == "Random")
        {
            Assert.True(a.Accepted > 0 && b.Accepted > 0, $"a={a.Accepted} b={b.Accepted}"); // 2^-19 chance of a false failure
        }
        else
        {
            // RoundRobin alternates; PowerOfTwoChoices with every connection held open keeps the counts level.
            Assert.Equal(10, a.Accepted);
        }
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task ServerStop_OpenConnection_ClosedPromptlyWithoutWaitingForShutdownTimeout(TransportKind transport)
    {
        await using var echo = new EchoServer();
        var proxy = await ProxyApp.StartAsync(new ProxyConfig().Route("r", "c", settings: ("Cpu", "0"))
            .Cluster("c", null, ("d1", echo.Address)), transport);
        using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
        Assert.Equal("x"u8.ToArray(), await Net.RoundTripAsync(client, "x"u8.ToArray()));
        Assert.Equal(0, proxy.Status.Routes.Single().Cpu);

        var watch = Stopwatch.StartNew();
        await proxy.DisposeAsync();

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"stopping took {watch.Elapsed}");
        Assert.True(await Net.ClosedWithinAsync(client, TimeSpan.FromSeconds(5)), "the client connection survived the server");
    }

    [Fact]
    public async Task TcpRoute_DestinationHostName_ResolvedAndConnected()
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyApp.StartAsync(new ProxyConfig().Route("r", "c", listen: "[::1]:0")
            .Cluster("c", null, ("d1", $"tcp://localhost:{echo.Port}")));

        var endPoint = System.Net.IPEndPoint.Parse(proxy.Status.Routes.Single().Listen);
        using var client = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(endPoint).DefaultTimeout();

        Assert.Equal("v6"u8.ToArray(), await Net.RoundTripAsync(client, "v6"u8.ToArray()));
        Assert.Equal(1, echo.Accepted);
    }
}
