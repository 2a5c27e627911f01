using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using BpfSteer.Transport;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Transport.BpfSteer.Tests;

/// <summary>The same app answers curl identically on Kestrel's Sockets transport and on BpfSteer.</summary>
public class DropInParityTests
{
    [Theory]
    [InlineData(ApplicationScheduling.ThreadPool)]
    [InlineData(ApplicationScheduling.Inline)]
    public async Task KeepAlive_ThreeRequestsOneCurl_ReuseOneConnection(ApplicationScheduling scheduling)
    {
        var (sockets, bpf) = await Parity.RunAsync(scheduling, async app =>
        {
            var url = new Uri(app.Address, "/plaintext").ToString();
            return await ClientProcess.CurlAsync("--http1.1", "-w", " %{num_connects}\n", url, url, url);
        });
        Assert.Equal("Hello, World! 1\nHello, World! 0\nHello, World! 0\n", bpf);
        Assert.Equal(sockets, bpf);
    }

    [Theory]
    [InlineData(ApplicationScheduling.ThreadPool)]
    [InlineData(ApplicationScheduling.Inline)]
    public async Task Pipelining_ThreeRequestsInOneWrite_ThreeResponsesInOrder(ApplicationScheduling scheduling)
    {
        var (sockets, bpf) = await Parity.RunAsync(scheduling, async app =>
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(IPAddress.Loopback, app.Port).DefaultTimeout();
            var request = "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\nGET /json HTTP/1.1\r\nHost: x\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            await client.SendAsync(Encoding.ASCII.GetBytes(request)).DefaultTimeout();
            var received = new MemoryStream();
            var buffer = new byte[4096];
            int n;
            while ((n = await client.ReceiveAsync(buffer).DefaultTimeout()) > 0)
            {
                received.Write(buffer, 0, n);
            }
            return Parity.StableHeaders(Encoding.ASCII.GetString(received.ToArray()));
        });
        Assert.Equal(3, bpf.Split("HTTP/1.1 200 OK").Length - 1);
        Assert.EndsWith("Hello, World!", bpf);
        Assert.Equal(sockets, bpf);
    }

    [Theory]
    [InlineData(ApplicationScheduling.ThreadPool)]
    [InlineData(ApplicationScheduling.Inline)]
    public async Task Chunked_RequestAndResponse_EchoedAndChunked(ApplicationScheduling scheduling)
    {
        var payload = TestApp.Pattern(300_000);
        var (sockets, bpf) = await Parity.RunAsync(scheduling, async app =>
        {
            var echo = await ClientProcess.RunAsync("curl", ["-sS", "--http1.1", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-",
                new Uri(app.Address, "/echo").ToString()], payload);
            var chunked = await ClientProcess.CurlAsync("--http1.1", "-D", "-", new Uri(app.Address, "/chunked").ToString());
            return (Convert.ToHexString(SHA256.HashData(Encoding.Latin1.GetBytes(echo.Stdout))), echo.Stdout.Length, Parity.StableHeaders(chunked));
        });
        Assert.Equal(payload.Length, bpf.Item2);
        Assert.Contains("Transfer-Encoding: chunked", bpf.Item3);
        Assert.Contains("chunk 4", bpf.Item3);
        Assert.Equal(sockets, bpf);
    }

    [Theory]
    [InlineData(ApplicationScheduling.ThreadPool)]
    [InlineData(ApplicationScheduling.Inline)]
    public async Task TenMegabytes_UploadAndDownload_ArriveIntact(ApplicationScheduling scheduling)
    {
        const int size = 10 * 1024 * 1024;
        var data = TestApp.Pattern(size);
        var file = Path.GetTempFileName();
        await File.WriteAllBytesAsync(file, data);
        var expected = $"{size} {Convert.ToHexStringLower(SHA256.HashData(data))}";
        try
        {
            var (sockets, bpf) = await Parity.RunAsync(scheduling, async app =>
            {
                var upload = await ClientProcess.CurlAsync("--http1.1", "--data-binary", "@" + file, new Uri(app.Address, "/upload").ToString());
                var downloaded = file + ".down";
                await ClientProcess.CurlAsync("--http1.1", "-o", downloaded, new Uri(app.Address, $"/download?bytes={size}").ToString());
                var hash = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(downloaded)));
                File.Delete(downloaded);
                return (upload, hash);
            });
            Assert.Equal(expected, bpf.upload);
            Assert.Equal(expected.Split(' ')[1], bpf.hash);
            Assert.Equal(sockets, bpf);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData(ApplicationScheduling.ThreadPool)]
    [InlineData(ApplicationScheduling.Inline)]
    public async Task H2c_PriorKnowledge_ServedOverHttp2(ApplicationScheduling scheduling)
    {
        var (sockets, bpf) = await Parity.RunAsync(scheduling, 
            app => ClientProcess.CurlAsync("--http2-prior-knowledge", "-w", " %{http_version}", new Uri(app.Address, "/json").ToString()),
            kestrel: k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        Assert.Equal("{\"message\":\"Hello, World!\"} 2", bpf);
        Assert.Equal(sockets, bpf);
    }

    [Theory]
    [InlineData(ApplicationScheduling.ThreadPool)]
    [InlineData(ApplicationScheduling.Inline)]
    public async Task Https_SelfSigned_Http11AndHttp2ViaAlpn(ApplicationScheduling scheduling)
    {
        using var cert = SelfSignedCertificate.Create();
        var (sockets, bpf) = await Parity.RunAsync(scheduling, async app =>
        {
            var url = new Uri(app.Address, "/plaintext").ToString();
            var h1 = await ClientProcess.CurlAsync("-k", "--http1.1", "-w", " %{http_version}", url);
            var h2 = await ClientProcess.CurlAsync("-k", "--http2", "-w", " %{http_version}", url);
            return h1 + "|" + h2;
        }, kestrel: k => k.Listen(IPAddress.Loopback, 0, l =>
        {
            l.Protocols = HttpProtocols.Http1AndHttp2;
            l.UseHttps(cert);
        }));
        Assert.Equal("Hello, World! 1.1|Hello, World! 2", bpf);
        Assert.Equal(sockets, bpf);
    }

    [Theory]
    [InlineData(ApplicationScheduling.ThreadPool)]
    [InlineData(ApplicationScheduling.Inline)]
    public async Task WebSocket_Echo_MessagesComeBack(ApplicationScheduling scheduling)
    {
        var (sockets, bpf) = await Parity.RunAsync(scheduling, async app =>
        {
            using var ws = new ClientWebSocket();
            await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{app.Port}/ws"), CancellationToken.None).DefaultTimeout();
            var echoed = new StringBuilder();
            var buffer = new byte[256 * 1024];
            foreach (var size in new[] { 5, 1000, 200_000 })
            {
                var message = TestApp.Pattern(size);
                await ws.SendAsync(message, WebSocketMessageType.Binary, true, CancellationToken.None).DefaultTimeout();
                var total = 0;
                WebSocketReceiveResult r;
                do
                {
                    r = await ws.ReceiveAsync(buffer.AsMemory(total).ToArray().Length > 0 ? new ArraySegment<byte>(buffer, total, buffer.Length - total) : default, CancellationToken.None).DefaultTimeout();
                    total += r.Count;
                }
                while (!r.EndOfMessage);
                echoed.Append(buffer.AsSpan(0, total).SequenceEqual(message) ? $"ok{size} " : $"bad{size} ");
            }
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).DefaultTimeout();
            return echoed.ToString() + ws.CloseStatus;
        });
        Assert.Equal("ok5 ok1000 ok200000 NormalClosure", bpf);
        Assert.Equal(sockets, bpf);
    }
}
