using System.Net.Security;
using System.Net.Sockets;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

/// <summary>TLS passthrough routed by the ClientHello's server name, with a real SslStream client and a real TLS backend.</summary>
public class TcpRouteSniTests
{
    private static ProxyConfig Config(TlsEchoServer backend) => new ProxyConfig()
        .Route("tls", "c", settings: [("Sni:0", "db.example.test"), ("Sni:1", "*.wild.test")])
        .Cluster("c", null, ("d1", backend.Address));

    [Theory]
    [MemberData(nameof(TcpRouteForwardingTests.Transports), MemberType = typeof(TcpRouteForwardingTests))]
    public async Task SniRoute_MatchingServerName_HandshakePassesThroughToTlsBackend(TransportKind transport)
    {
        await using var backend = new TlsEchoServer();
        await using var proxy = await ProxyApp.StartAsync(Config(backend), transport);

        using var socket = await Net.ConnectAsync(proxy.EndPoint("tls"));
        await using var ssl = new SslStream(new NetworkStream(socket));
        await ssl.AuthenticateAsClientAsync(Tls.ClientOptions("db.example.test")).DefaultTimeout();
        var data = Net.Pattern(100_000);
        await ssl.WriteAsync(data).DefaultTimeout();
        var echoed = new byte[data.Length];
        await ssl.ReadExactlyAsync(echoed).DefaultTimeout();

        Assert.Equal(data, echoed);
        Assert.Equal(["db.example.test"], backend.ServerNames);
        proxy.Logs.AssertNoErrors();
    }

    [Theory]
    [MemberData(nameof(TcpRouteForwardingTests.Transports), MemberType = typeof(TcpRouteForwardingTests))]
    public async Task SniRoute_NonMatchingServerName_ClosedWithoutReachingBackend(TransportKind transport)
    {
        await using var backend = new TlsEchoServer();
        await using var proxy = await ProxyApp.StartAsync(Config(backend), transport);
        using var metrics = new MetricsReader(proxy);

        using var socket = await Net.ConnectAsync(proxy.EndPoint("tls"));
        await using var ssl = new SslStream(new NetworkStream(socket));
        await Assert.ThrowsAnyAsync<Exception>(() => ssl.AuthenticateAsClientAsync(Tls.ClientOptions("other.example.test"))).DefaultTimeout();

        Assert.Equal(0, backend.Accepted);
        Assert.Equal(1, metrics.Read("yarp.sockmap.tcp.rejected", "reason=sni-mismatch,route=tls"));
        Assert.Contains(proxy.Logs.WithEventId(204), e => (string?)e.Values["ServerName"] == "other.example.test");
    }

    [Fact]
    public async Task SniRoute_WildcardMatch_Passes()
    {
        await using var backend = new TlsEchoServer();
        await using var proxy = await ProxyApp.StartAsync(Config(backend));

        using var socket = await Net.ConnectAsync(proxy.EndPoint("tls"));
        await using var ssl = new SslStream(new NetworkStream(socket));
        // The test client pins the certificate by hash, so the handshake completes whatever name it asked for.
        await ssl.AuthenticateAsClientAsync(Tls.ClientOptions("a.wild.test")).DefaultTimeout();

        await Poll.UntilAsync(() => backend.Handshakes == 1, "the backend to finish its side of the handshake");
        Assert.Equal(["a.wild.test"], backend.ServerNames);
    }

    [Fact]
    public async Task SniRoute_PlainBytes_Closed()
    {
        await using var backend = new TlsEchoServer();
        await using var proxy = await ProxyApp.StartAsync(Config(backend));

        using var socket = await Net.ConnectAsync(proxy.EndPoint("tls"));
        await socket.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), SocketFlags.None).DefaultTimeout();

        Assert.True(await Net.ClosedWithinAsync(socket, TimeSpan.FromSeconds(5)));
        Assert.Equal(0, backend.Accepted);
    }
}
