using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using BpfSteer.Transport;
using BpfSteer.Transport.Internal;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// With Inline scheduling an HTTP/2 connection (h2c preface, or a TLS ClientHello offering ALPN h2) runs its
/// application side on the thread pool, as Kestrel runs its streams anyway; HTTP/1.x connections stay on the worker.
/// </summary>
public class Http2SchedulingTests
{
    private const int Http2OnThreadPoolEvent = 15;

    [Fact]
    public void Sniffer_FirstBytes_RecognisesH2cPrefaceAndAlpnH2Only()
    {
        Assert.True(Http2Sniffer.IsHttp2("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8));
        Assert.False(Http2Sniffer.IsHttp2("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8));
        Assert.False(Http2Sniffer.IsHttp2("PRI"u8)); // too short to tell: treated as HTTP/1.x
        Assert.True(Http2Sniffer.IsHttp2(CaptureClientHello([SslApplicationProtocol.Http2, SslApplicationProtocol.Http11])));
        Assert.True(Http2Sniffer.IsHttp2(CaptureClientHello([SslApplicationProtocol.Http2])));
        Assert.False(Http2Sniffer.IsHttp2(CaptureClientHello([SslApplicationProtocol.Http11])));
        Assert.False(Http2Sniffer.IsHttp2(CaptureClientHello(null)));
        var hello = CaptureClientHello([SslApplicationProtocol.Http2]);
        Assert.False(Http2Sniffer.IsHttp2(hello.AsSpan(0, hello.Length / 2))); // cut short: not known, stays inline
    }

    [Theory]
    [InlineData(HttpProtocols.Http1, false)]
    [InlineData(HttpProtocols.Http2, true)] // prior knowledge on a plaintext endpoint: what h2load does
    public async Task InlineScheduling_FirstBytes_OnlyHttp2ConnectionMovedToThreadPool(HttpProtocols protocols, bool moved)
    {
        var logs = new DebugEvents();
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.ApplicationScheduling = ApplicationScheduling.Inline,
            kestrel: k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = protocols), logs: logs);
        var version = protocols == HttpProtocols.Http2 ? HttpVersion.Version20 : HttpVersion.Version11;
        using var client = new HttpClient { DefaultRequestVersion = version, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        for (var i = 0; i < 3; i++)
        {
            using var response = await client.GetAsync(new Uri(app.Address, "/plaintext")).DefaultTimeout();
            Assert.Equal(version, response.Version);
            Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync().DefaultTimeout());
        }
        Assert.Equal(moved ? 1 : 0, logs.Ids.Count(id => id == Http2OnThreadPoolEvent));
        app.Errors.AssertNoErrors();
    }

    /// <summary>The ClientHello an SslStream client sends with <paramref name="protocols"/> as its ALPN list, read off the wire.</summary>
    private static byte[] CaptureClientHello(List<SslApplicationProtocol>? protocols)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new TcpClient();
        client.Connect((IPEndPoint)listener.LocalEndPoint!);
        using var server = listener.Accept();
        using var ssl = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
        var handshake = ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", ApplicationProtocols = protocols });
        var buffer = new byte[16 * 1024];
        server.ReceiveTimeout = 10_000;
        var n = server.Receive(buffer);
        client.Close(); // the handshake fails now; only the ClientHello was wanted
        try
        {
            handshake.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
        }
        return buffer.AsSpan(0, n).ToArray();
    }

    private sealed class DebugEvents : ILoggerProvider
    {
        public ConcurrentQueue<int> Ids { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(DebugEvents owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (eventId.Name == "ConnectionHttp2OnThreadPool")
                {
                    owner.Ids.Enqueue(eventId.Id);
                }
            }
        }
    }
}
