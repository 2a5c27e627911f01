using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests.HttpUpstream;

/// <summary>
/// YARP's forwarding behaviours through the per-worker upstream pools, on the real BpfSteer transport: headers, bodies
/// both ways, chunked, WebSocket, HTTP/2 to the backend (h2c and TLS), each checked against what the backend saw, and
/// the pools' connections counted against the backend's.
/// </summary>
public class PerWorkerForwardingTests
{
    [Fact]
    public async Task Headers_RequestAndResponse_ForwardedThroughTheWorkersPool()
    {
        await using var backend = await UpstreamBackend.StartAsync();
        await using var proxy = await HttpProxy.StartAsync(HttpProxy.Config(backend.Url));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/headers");
        request.Headers.Add("X-Test", "per-worker");
        using var response = await proxy.Client.SendAsync(request).DefaultTimeout();
        var seen = await response.Content.ReadAsStringAsync().DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("upstream-backend", response.Headers.GetValues("X-Backend").Single());
        Assert.Contains("X-Test: per-worker", seen);
        Assert.Contains("X-Forwarded-For: 127.0.0.1", seen); // YARP's default transforms still run
        // The request went through a per-worker pool: a connection opened by a worker, and every socket call counted.
        var workers = proxy.Workers;
        Assert.Equal(1, workers.Sum(w => w.UpstreamConnectionsOpened));
        Assert.Equal(backend.OpenConnections, proxy.UpstreamOpenConnections);
        Assert.True(workers.Sum(w => w.UpstreamOperations) >= 2, "one write and one read at least");
        Assert.Equal(workers.Sum(w => w.UpstreamOperations), workers.Sum(w => w.UpstreamOperationsOnWorkerCpu));
        Assert.NotEmpty(proxy.Logs.WithEventId(501)); // UpstreamPoolCreated
        proxy.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task Bodies_UploadAndDownload_BytesIntactBothWays()
    {
        await using var backend = await UpstreamBackend.StartAsync();
        await using var proxy = await HttpProxy.StartAsync(HttpProxy.Config(backend.Url));

        var upload = Net.Pattern(3 * 1024 * 1024 + 17, seed: 7);
        using var uploaded = await proxy.Client.PostAsync("/upload", new ByteArrayContent(upload)).DefaultTimeout();
        Assert.Equal($"{upload.Length} {Convert.ToHexStringLower(SHA256.HashData(upload))}", await uploaded.Content.ReadAsStringAsync().DefaultTimeout());

        const int size = 4 * 1024 * 1024 + 3;
        var downloaded = await proxy.Client.GetByteArrayAsync($"/bytes/{size}").DefaultTimeout();
        Assert.Equal(Net.Pattern(size, seed: size), downloaded);
        proxy.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task Chunked_RequestBodyWithoutLengthAndChunkedResponse_Streamed()
    {
        await using var backend = await UpstreamBackend.StartAsync();
        await using var proxy = await HttpProxy.StartAsync(HttpProxy.Config(backend.Url));

        var body = Net.Pattern(300_000, seed: 3);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/echo") { Content = new StreamContent(new MemoryStream(body)) };
        request.Headers.TransferEncodingChunked = true;
        using var echoed = await proxy.Client.SendAsync(request).DefaultTimeout();
        Assert.True(echoed.Headers.TransferEncodingChunked);
        Assert.Equal(body, await echoed.Content.ReadAsByteArrayAsync().DefaultTimeout());

        using var chunked = await proxy.Client.GetAsync("/chunked", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.True(chunked.Headers.TransferEncodingChunked);
        Assert.Equal(string.Concat(Enumerable.Range(0, 5).Select(i => $"chunk {i}\n")), await chunked.Content.ReadAsStringAsync().DefaultTimeout());
        proxy.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task WebSocket_Upgrade_MessagesEchoedAndConnectionClosedAfterwards()
    {
        await using var backend = await UpstreamBackend.StartAsync();
        await using var proxy = await HttpProxy.StartAsync(HttpProxy.Config(backend.Url));

        using (var ws = new ClientWebSocket())
        {
            await ws.ConnectAsync(new Uri($"ws://{proxy.Address.Authority}/ws"), CancellationToken.None).DefaultTimeout();
            var buffer = new byte[64 * 1024];
            foreach (var text in new[] { "one", "two", new string('x', 40_000) })
            {
                await ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
                var received = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await ws.ReceiveAsync(buffer, CancellationToken.None).DefaultTimeout();
                    received.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);
                Assert.Equal(text, Encoding.UTF8.GetString(received.ToArray()));
            }
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).DefaultTimeout();
            Assert.Equal(WebSocketCloseStatus.NormalClosure, ws.CloseStatus);
        }
        // An upgraded connection is never returned to the pool: it closes with the WebSocket, on both sides.
        await Poll.UntilAsync(() => proxy.UpstreamOpenConnections == 0 && backend.OpenConnections == 0,
            $"the upgraded upstream connection to close (pools {proxy.UpstreamOpenConnections}, backend {backend.OpenConnections})");
        proxy.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task Http2Upstream_H2cPriorKnowledge_ConcurrentRequestsShareTheWorkersConnection()
    {
        await using var backend = await UpstreamBackend.StartAsync(BackendProtocol.H2c);
        var config = HttpProxy.Config(backend.Url)
            .Set("ReverseProxy:Clusters:backend:HttpRequest:Version", "2")
            .Set("ReverseProxy:Clusters:backend:HttpRequest:VersionPolicy", "RequestVersionExact");
        await using var proxy = await HttpProxy.StartAsync(config);

        // One downstream connection, so one worker: its pool multiplexes every request on one HTTP/2 connection.
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => proxy.Client.GetStringAsync("/delay/50"))).DefaultTimeout();
        Assert.All(responses, r => Assert.Equal("done", r));
        Assert.Equal("HTTP/2", await proxy.Client.GetStringAsync("/protocol").DefaultTimeout());
        Assert.Equal(backend.AcceptedConnections, proxy.Workers.Sum(w => w.UpstreamConnectionsOpened));
        Assert.True(backend.AcceptedConnections <= proxy.Workers.Count, $"{backend.AcceptedConnections} HTTP/2 connections for {proxy.Workers.Count} workers");
        proxy.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task Tls_HttpsBackend_Http2NegotiatedByAlpnOverTheWorkersSocket()
    {
        await using var backend = await UpstreamBackend.StartAsync(BackendProtocol.Https);
        var config = HttpProxy.Config(backend.Url)
            .Set("ReverseProxy:Clusters:backend:HttpClient:DangerousAcceptAnyServerCertificate", "true");
        await using var proxy = await HttpProxy.StartAsync(config);

        // YARP asks for HTTP/2 (RequestVersionOrLower) by default; over TLS, ALPN gives it.
        Assert.Equal("HTTP/2", await proxy.Client.GetStringAsync("/protocol").DefaultTimeout());
        var body = await proxy.Client.GetByteArrayAsync("/bytes/1000000").DefaultTimeout();
        Assert.Equal(Net.Pattern(1_000_000, seed: 1_000_000), body);
        Assert.Equal(1, proxy.Workers.Sum(w => w.UpstreamConnectionsOpened));
        var workers = proxy.Workers;
        Assert.Equal(workers.Sum(w => w.UpstreamOperations), workers.Sum(w => w.UpstreamOperationsOnWorkerCpu));
        proxy.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task ConfigureHttpClient_AppCallback_AppliedToEveryWorkersPool()
    {
        await using var backend = await UpstreamBackend.StartAsync();
        var configured = 0;
        await using var proxy = await HttpProxy.StartAsync(HttpProxy.Config(backend.Url), configureHttpClient: (context, handler) =>
        {
            Interlocked.Increment(ref configured);
            handler.MaxResponseHeadersLength = 32;
        });

        var statuses = await Task.WhenAll(
            PinnedHttp.GetAsync(cpu: 0, proxy.Address.Port, "/", connections: 1, rounds: 2),
            PinnedHttp.GetAsync(cpu: 1, proxy.Address.Port, "/", connections: 1, rounds: 2)).DefaultTimeout();
        Assert.All(statuses.SelectMany(s => s), s => Assert.Equal(200, s));
        // Once per worker pool (YARP's own CreateClient would have called it once for the cluster).
        Assert.Equal(proxy.Workers.Count, configured);
        Assert.All(proxy.Workers, w => Assert.True(w.UpstreamConnectionsOpened > 0, $"worker {w.Cpu} opened no upstream connection"));
        proxy.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task SyncSend_ClusterClientOffTheWorker_ThroughAWorkersPool()
    {
        // The cluster's invoker used synchronously (as an app may; YARP itself does not): SocketsHttpHandler's own
        // synchronous path over a worker's connection, from a thread-pool thread.
        await using var backend = await UpstreamBackend.StartAsync();
        await using var proxy = await HttpProxy.StartAsync(HttpProxy.Config(backend.Url));
        var invoker = proxy.Cluster("backend").Model.HttpClient;

        var body = await Task.Run(() =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(backend.Url, "/"));
            using var response = invoker.Send(request, CancellationToken.None);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(response.Content.ReadAsStream());
            return reader.ReadToEnd();
        }).DefaultTimeout();

        Assert.Equal("hello from the backend", body);
        Assert.Equal(1, proxy.Workers.Sum(w => w.UpstreamConnectionsOpened));
        Assert.Equal(backend.OpenConnections, proxy.UpstreamOpenConnections);
        proxy.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task Sockets_SameApp_YarpDefaultClientUntouched()
    {
        // Off BpfSteer there is no worker: the factory hands every call to YARP's own.
        await using var backend = await UpstreamBackend.StartAsync();
        await using var proxy = await HttpProxy.StartAsync(HttpProxy.Config(backend.Url), TransportKind.Sockets);
        Assert.Equal("hello from the backend", await proxy.Client.GetStringAsync("/").DefaultTimeout());
        Assert.Empty(proxy.Logs.WithEventId(500)); // UpstreamClientCreated: never on Sockets
        proxy.Logs.AssertNoErrors();
    }
}
