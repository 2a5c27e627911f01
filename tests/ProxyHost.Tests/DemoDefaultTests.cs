using System.Text;
using System.Text.Json;
using BpfSteer.Testing;
using ProxyHost.Tests.Infrastructure;

namespace ProxyHost.Tests;

/// <summary>ProxyHost started with no arguments: the embedded demo, its backends, routes and status endpoints.</summary>
[Collection(ProxyHostCollection.Name)]
public sealed class DemoDefaultTests(DemoHostFixture fixture) : IClassFixture<DemoHostFixture>
{
    private const string Greeting = "220 bpfsteer demo greeter ready\r\n";
    private ProxyHostProcess Host => fixture.Host;

    [Fact]
    public void Start_NoArguments_PrintsSummaryWithWorkersSelectorSockmapKfuncAndRouteModes()
    {
        var output = Host.Output;
        Assert.Contains("Routes from  the embedded demo configuration", output);
        Assert.Contains($"Transport    BpfSteer: {Environment.ProcessorCount} workers on CPUs {string.Join(",", Enumerable.Range(0, Environment.ProcessorCount))}", output);
        Assert.Matches(@"Selector     Cbpf attached", output);
        Assert.Matches(@"Sockmap      usable", output);
        Assert.Contains("kfunc        bpf_sk_skb_set_redirect_cpu absent", output);
        // Auto takes the kernel path by default wherever sockmap is usable (it is here: root, BPF).
        Assert.Matches(@"TCP route    demo-echo: 127\.0\.0\.1:\d+, mode Sockmap \(.+\)", output);
        Assert.Matches(@"TCP route    demo-greeter: 127\.0\.0\.1:\d+, mode Sockmap \(.+\)", output);
        Assert.Contains("HTTP route   demo-http", output);
        Assert.Contains($"curl {Host.HttpUrl}/", output);
        Assert.Equal(["demo-echo", "demo-greeter"], Host.TcpRoutes.Keys.Order());
    }

    [Fact]
    public async Task HttpRoute_Curl_ReachesDemoBackendAndTransportCountsIt()
    {
        var before = AcceptedTotal(await Clients.StatusAsync(Host.AdminUrl));
        var body = await Clients.CurlAsync(Host.HttpUrl + "/");
        Assert.StartsWith("Hello from the ProxyHost demo HTTP backend.", body);

        // Each curl is a new connection to the BpfSteer transport: the two status calls and the curl above.
        var after = AcceptedTotal(await Clients.StatusAsync(Host.AdminUrl));
        Assert.True(after >= before + 2, $"accepted went from {before} to {after}");
    }

    [Fact]
    public async Task EchoRoute_OneMegabyte_ForwardedExactlyAndCountedInStatus()
    {
        var before = Clients.Route(await Clients.StatusAsync(Host.AdminUrl), "demo-echo");
        const int size = 1 << 20;
        await Clients.EchoThroughAsync(Host.TcpRoutes["demo-echo"], size);

        var route = Clients.Route(await Clients.WaitForStatusAsync(Host.AdminUrl,
            s => Counter(Clients.Route(s, "demo-echo"), "bytesBackendToClient") >= Counter(before, "bytesBackendToClient") + size,
            "the echo route's bytes"), "demo-echo");
        Assert.True(Counter(route, "bytesClientToBackend") >= Counter(before, "bytesClientToBackend") + size);
        Assert.True(Counter(route, "totalConnections") >= Counter(before, "totalConnections") + 1);
        Assert.Equal("Sockmap", route.GetProperty("mode").GetString());
    }

    [Fact]
    public async Task EchoRoute_InteractiveRoundTrips_AllAnsweredPromptly()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var slowest = await Clients.PingPongAsync(Host.TcpRoutes["demo-echo"], rounds: 200);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"200 round trips of 100 bytes took {sw.Elapsed} (slowest {slowest})");
    }

    [Fact]
    public async Task GreeterRoute_ServerSpeaksFirst_GreetingArrivesAndBothDirectionsCounted()
    {
        var before = Clients.Route(await Clients.StatusAsync(Host.AdminUrl), "demo-greeter");
        const int size = 64 * 1024;
        await Clients.EchoThroughAsync(Host.TcpRoutes["demo-greeter"], size, Greeting.Length, Encoding.ASCII.GetBytes(Greeting));

        var expectedBack = Counter(before, "bytesBackendToClient") + size + Greeting.Length;
        var route = Clients.Route(await Clients.WaitForStatusAsync(Host.AdminUrl,
            s => Counter(Clients.Route(s, "demo-greeter"), "bytesBackendToClient") >= expectedBack,
            "the greeter route's bytes"), "demo-greeter");
        Assert.True(Counter(route, "bytesClientToBackend") >= Counter(before, "bytesClientToBackend") + size);
        Assert.True(Counter(route, "totalConnections") >= Counter(before, "totalConnections") + 1);
    }

    [Fact]
    public async Task StatusJson_Demo_HasEveryContractFieldWithItsType()
    {
        var status = await Clients.StatusAsync(Host.AdminUrl);

        var workers = status.GetProperty("transport").GetProperty("workers").EnumerateArray().ToList();
        Assert.Equal(Environment.ProcessorCount, workers.Count);
        foreach (var w in workers)
        {
            foreach (var field in new[] { "cpu", "accepted", "incomingCpuMatched", "activeConnections", "spillShare", "idleSpinHits", "idleSleeps" })
            {
                Assert.Equal(JsonValueKind.Number, w.GetProperty(field).ValueKind);
            }
            Assert.Contains(w.GetProperty("spillTargetCpu").ValueKind, new[] { JsonValueKind.Number, JsonValueKind.Null });
        }

        var routes = status.GetProperty("routes").EnumerateArray().ToList();
        Assert.Equal(["demo-echo", "demo-greeter"], routes.Select(r => r.GetProperty("id").GetString()).Order());
        foreach (var r in routes)
        {
            Assert.Equal(Host.TcpRoutes[r.GetProperty("id").GetString()!].ToString(), r.GetProperty("listen").GetString());
            Assert.Contains(r.GetProperty("mode").GetString(), new[] { "Sockmap", "UserSpace" });
            Assert.True(r.GetProperty("cpu").ValueKind is JsonValueKind.Null or JsonValueKind.Number);
            foreach (var field in new[] { "activeConnections", "totalConnections", "bytesClientToBackend", "bytesBackendToClient" })
            {
                Assert.Equal(JsonValueKind.Number, r.GetProperty(field).ValueKind);
            }
            Assert.Equal(JsonValueKind.Array, r.GetProperty("verdictRunsPerCpu").ValueKind);
            var queue = r.GetProperty("kernelQueue");
            foreach (var field in new[] { "bytes", "peakBytes", "largestBacklogBytes", "parkedConnections", "heldBackByBudget" })
            {
                Assert.Equal(JsonValueKind.Number, queue.GetProperty(field).ValueKind);
            }
            foreach (var field in new[] { "highMark", "budget", "peerFull", "resumed" })
            {
                Assert.Equal(JsonValueKind.Number, queue.GetProperty("parks").GetProperty(field).ValueKind);
            }
        }

        var budget = status.GetProperty("forwarder").GetProperty("kernelQueue");
        Assert.Equal(256L << 20, budget.GetProperty("budgetBytes").GetInt64());
        foreach (var field in new[] { "usedBytes", "peakBytes", "budgetParks" })
        {
            Assert.Equal(JsonValueKind.Number, budget.GetProperty(field).ValueKind);
        }
        var loops = status.GetProperty("forwarder").GetProperty("routeLoops").EnumerateArray().ToList();
        Assert.NotEmpty(loops); // the demo's routes are bound, so their loops run
        Assert.Equal(loops.Count, loops.Select(l => l.GetProperty("cpu").GetInt32()).Distinct().Count());
        foreach (var loop in loops)
        {
            foreach (var field in new[] { "cpu", "connections", "idleSpinHits", "idleSleeps" })
            {
                Assert.Equal(JsonValueKind.Number, loop.GetProperty(field).ValueKind);
            }
        }

        var kernel = status.GetProperty("kernel");
        foreach (var name in new[] { "reuseportCbpf", "reuseportEbpf", "sockmap", "redirectCpuKfunc", "capBpf", "capNetAdmin", "tcpMigrateReq" })
        {
            var available = kernel.GetProperty(name);
            Assert.True(available.ValueKind is JsonValueKind.True or JsonValueKind.False, name);
            Assert.Equal(available.ValueKind == JsonValueKind.False, kernel.TryGetProperty(name + "Reason", out _));
        }
        Assert.True(kernel.GetProperty("sockmap").GetBoolean());
        Assert.False(kernel.GetProperty("redirectCpuKfunc").GetBoolean());
        Assert.Contains("bpf_sk_skb_set_redirect_cpu", kernel.GetProperty("redirectCpuKfuncReason").GetString());
    }

    [Fact]
    public async Task Healthz_DemoAsRoot_BpfAndRoutesHealthy()
    {
        using var doc = JsonDocument.Parse(await Clients.CurlAsync(Host.AdminUrl + "/healthz"));
        var checks = doc.RootElement.GetProperty("checks");
        Assert.Equal("Healthy", checks.GetProperty("bpf").GetProperty("status").GetString());
        Assert.Equal("Healthy", checks.GetProperty("routes").GetProperty("status").GetString());
        Assert.Equal("1/1 destinations available", checks.GetProperty("routes").GetProperty("data").GetProperty("tcp:demo-echo").GetString());
        Assert.Equal("Healthy", doc.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task StatusPage_Get_IsSelfContainedHtml()
    {
        var html = await Clients.CurlAsync(Host.AdminUrl + "/bpfsteer");
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Contains("/bpfsteer/status", html);
        Assert.DoesNotMatch(@"(src|href)\s*=\s*""https?://", html);
    }

    [Fact]
    public async Task ProxyPort_HealthzWithoutProxyHealthPath_ForwardedToTheDemoBackend()
    {
        // Off by default: /healthz on the proxy's port belongs to the proxied application (here the demo backend).
        var (status, body) = await Clients.CurlStatusAsync(Host.HttpUrl + "/healthz");
        Assert.Equal(404, status);
        Assert.StartsWith("The ProxyHost demo HTTP backend has nothing at GET /healthz", body);
    }

    [Fact]
    public async Task Metrics_AfterHttpAndTcpTraffic_EveryMeterExportsNonZeroSeries()
    {
        Assert.StartsWith("Hello from the ProxyHost demo HTTP backend.", await Clients.CurlAsync(Host.HttpUrl + "/"));
        await Clients.EchoThroughAsync(Host.TcpRoutes["demo-echo"], 64 * 1024);

        // One series per meter, each of which the traffic above must have moved (the exporter caches a scrape briefly).
        (string Meter, string Series, string[] Labels)[] expected =
        [
            ("BpfSteer.Transport", "bpfsteer_transport_accepted_total", []),
            ("Yarp.SockmapForwarder", "yarp_sockmap_tcp_connections_total", ["route=\"demo-echo\""]),
            ("Yarp.SockmapForwarder", "yarp_sockmap_tcp_bytes_total", ["route=\"demo-echo\"", "direction=\"client_to_backend\""]),
            ("Microsoft.AspNetCore.Server.Kestrel", "kestrel_connection_duration_seconds_count", []),
            ("Microsoft.AspNetCore.Hosting", "http_server_request_duration_seconds_count", ["http_route=\"{**catch-all}\"", "http_response_status_code=\"200\""]),
            ("System.Net.Http", "http_client_request_duration_seconds_count", [$"server_port=\"{DemoBackendPort()}\"", "http_response_status_code=\"200\""]),
        ];
        var missing = expected.Select(e => e.Series).ToList();
        var text = "";
        for (var i = 0; i < 40 && missing.Count > 0; i++)
        {
            text = await Clients.CurlAsync(Host.AdminUrl + "/metrics");
            missing = expected.Where(e => Sum(text, e.Meter, e.Series, e.Labels) <= 0).Select(e => $"{e.Meter}: {e.Series} {string.Join(",", e.Labels)}").ToList();
            if (missing.Count > 0)
            {
                await Task.Delay(250);
            }
        }
        Assert.True(missing.Count == 0, $"no non-zero series for {string.Join("; ", missing)} in:\n{text}");
    }

    [Fact]
    public async Task TryCommands_Demo_EachWorksAsPrinted()
    {
        // Every suggested command uses what eng/install-prereqs.sh installs (curl, socat) and must work as printed.
        var commands = Host.TryCommands;
        Assert.Equal(6, commands.Count);
        Assert.All(commands, c => Assert.Matches(@"^(curl|echo hello \| socat|socat) ", c));
        string[] expectedOutput =
        [
            "Hello from the ProxyHost demo HTTP backend.",
            "hello",
            Greeting.TrimEnd() + "\ntyped by a person",
            "\"version\": 1",
            "\"status\": \"Healthy\"",
            "# TYPE bpfsteer_transport_accepted_total counter",
        ];
        for (var i = 0; i < commands.Count; i++)
        {
            // The greeter line is interactive (socat reads the terminal): wait for the greeting, type a line, then Ctrl-D.
            var typed = commands[i].StartsWith("socat ", StringComparison.Ordinal) ? "typed by a person\n" : null;
            var (code, output) = await Clients.RunShellAsync(commands[i], typed, waitFor: typed is null ? null : "ready");
            Assert.True(code == 0, $"`{commands[i]}` exited {code}: {output}");
            Assert.Contains(expectedOutput[i], output.Replace("\r\n", "\n"));
        }
    }

    /// <summary>The sum of the samples of <paramref name="series"/> from <paramref name="meter"/> that carry every label given.</summary>
    private static double Sum(string scrape, string meter, string series, string[] labels) =>
        scrape.Split('\n')
            .Where(l => l.StartsWith(series + "{", StringComparison.Ordinal)
                && labels.Append($"otel_scope_name=\"{meter}\"").All(label => l.Contains(label, StringComparison.Ordinal)))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The demo HTTP backend's port, from the start-up log line that names it.</summary>
    private int DemoBackendPort() =>
        int.Parse(System.Text.RegularExpressions.Regex.Match(Host.Output, @"Demo backends started: HTTP http://127\.0\.0\.1:(\d+)/").Groups[1].Value);

    internal static long Counter(JsonElement e, string name) => e.GetProperty(name).GetInt64();

    private static long AcceptedTotal(JsonElement status) =>
        status.GetProperty("transport").GetProperty("workers").EnumerateArray().Sum(w => w.GetProperty("accepted").GetInt64());
}
