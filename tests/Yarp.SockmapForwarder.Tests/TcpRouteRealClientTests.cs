using System.Text.Json;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

/// <summary>Real clients and servers through a TCP route: redis-benchmark, curl, iperf3, psql and pgbench.</summary>
public class TcpRouteRealClientTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan s_clientTimeout = TimeSpan.FromSeconds(90);

    /// <summary>Each data path once: Kestrel pipes (Sockets transport), sockmap and splice (BpfSteer hand-off).</summary>
    public static TheoryData<TransportKind, TcpForwarderMode> Paths => new()
    {
        { TransportKind.Sockets, TcpForwarderMode.Auto },
        { TransportKind.BpfSteer, TcpForwarderMode.Sockmap },
        { TransportKind.BpfSteer, TcpForwarderMode.UserSpace },
    };

    private static ProxyConfig RouteTo(int port, TcpForwarderMode mode) =>
        new ProxyConfig().Route("r", "c", settings: ("Mode", mode.ToString())).Cluster("c", null, ("d1", ProxyConfig.Tcp(port)));

    private static async Task AssertPathAsync(ProxyApp proxy, TransportKind transport, TcpForwarderMode mode)
    {
        // TCP routes own their sockets on either transport. Auto: every connection starts on the relay, and the bulk ones
        // (iperf3's data connections) move to sockmap; a client with small messages stays on the relay.
        var line = await proxy.Logs.WaitForAsync(e => e.EventId == 207);
        if (mode == TcpForwarderMode.Auto)
        {
            Assert.Contains(line.Values["Path"], new[] { "Sockmap", "UserSpace" });
        }
        else
        {
            Assert.Equal(mode.ToString(), line.Values["Path"]);
        }
        proxy.Logs.AssertNoErrors();
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task RedisBenchmark_ThroughRoute_CompletesSetAndGet(TransportKind transport, TcpForwarderMode mode)
    {
        var redisPort = Net.FreePort();
        await using var redis = ExternalProcess.Start("redis-server", "--port", redisPort.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no");
        await redis.WaitForOutputAsync("Ready to accept connections", TimeSpan.FromSeconds(20));
        await using var proxy = await ProxyApp.StartAsync(RouteTo(redisPort, mode), transport);
        var port = proxy.Port("r").ToString();

        var output = await ExternalProcess.RunCheckedAsync("redis-benchmark", s_clientTimeout, "-h", "127.0.0.1", "-p", port, "-n", "5000", "-c", "20", "-t", "set,get", "-q");

        Assert.Contains("SET:", output);
        Assert.Contains("GET:", output);
        Assert.Equal("OK", (await ExternalProcess.RunCheckedAsync("redis-cli", s_clientTimeout, "-h", "127.0.0.1", "-p", port, "set", "sockmap", "yes")).Trim());
        Assert.Equal("yes", (await ExternalProcess.RunCheckedAsync("redis-cli", s_clientTimeout, "-h", "127.0.0.1", "-p", port, "get", "sockmap")).Trim());
        await AssertPathAsync(proxy, transport, mode);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Curl_ThroughRoute_GetsHttpBackendResponses(TransportKind transport, TcpForwarderMode mode)
    {
        await using var web = await HttpBackend.StartAsync();
        await using var proxy = await ProxyApp.StartAsync(RouteTo(web.Port, mode), transport);
        var baseUrl = $"http://127.0.0.1:{proxy.Port("r")}";
        var file = Path.GetTempFileName();
        try
        {
            var greeting = await ExternalProcess.RunCheckedAsync("curl", s_clientTimeout, "-sS", "--max-time", "30", baseUrl + "/");
            await ExternalProcess.RunCheckedAsync("curl", s_clientTimeout, "-sS", "--max-time", "30", "-o", file, baseUrl + "/bytes/4194304");

            Assert.Equal("hello from the backend", greeting.Trim());
            Assert.Equal(Net.Pattern(4194304, seed: 4194304), await File.ReadAllBytesAsync(file));
        }
        finally
        {
            File.Delete(file);
        }
        await AssertPathAsync(proxy, transport, mode);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Iperf3_ThroughRoute_TransfersBothWays(TransportKind transport, TcpForwarderMode mode)
    {
        // One iperf3 server per direction: a server runs one test at a time and could still be closing the first.
        var forwardPort = Net.FreePort();
        var reversePort = Net.FreePort();
        await using var forwardServer = ExternalProcess.Start("iperf3", "-s", "--forceflush", "-p", forwardPort.ToString(), "-B", "127.0.0.1");
        await using var reverseServer = ExternalProcess.Start("iperf3", "-s", "--forceflush", "-p", reversePort.ToString(), "-B", "127.0.0.1");
        await forwardServer.WaitForOutputAsync("Server listening", TimeSpan.FromSeconds(20));
        await reverseServer.WaitForOutputAsync("Server listening", TimeSpan.FromSeconds(20));
        var config = RouteTo(forwardPort, mode)
            .Route("rev", "rc", settings: ("Mode", mode.ToString())).Cluster("rc", null, ("d1", ProxyConfig.Tcp(reversePort)));
        await using var proxy = await ProxyApp.StartAsync(config, transport);

        foreach (var (route, reverse) in new[] { ("r", false), ("rev", true) })
        {
            string[] args = ["-c", "127.0.0.1", "-p", proxy.Port(route).ToString(), "-t", "2", "-J", .. reverse ? new[] { "-R" } : []];
            var json = await ExternalProcess.RunCheckedAsync("iperf3", s_clientTimeout, args);
            using var doc = JsonDocument.Parse(json);
            Assert.False(doc.RootElement.TryGetProperty("error", out var error), $"iperf3 {(reverse ? "-R " : "")}failed: {error}");
            var received = doc.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bytes").GetInt64();
            Assert.True(received > 1_000_000, $"iperf3 {(reverse ? "-R " : "")}moved only {received} bytes");
        }
        await AssertPathAsync(proxy, transport, mode);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task PsqlAndPgbench_ThroughRoute_RunAgainstPostgres(TransportKind transport, TcpForwarderMode mode)
    {
        await using var proxy = await ProxyApp.StartAsync(RouteTo(postgres.Port, mode), transport);
        var port = proxy.Port("r").ToString();
        string[] connection = ["-h", "127.0.0.1", "-p", port, "-U", "postgres"];

        var answer = await ExternalProcess.RunCheckedAsync("psql", s_clientTimeout, [.. connection, "-d", "postgres", "-At", "-c", "select 6 * 7"]);
        Assert.Equal("42", answer.Trim());

        var database = $"bench_{transport}_{mode}".ToLowerInvariant();
        await ExternalProcess.RunCheckedAsync("psql", s_clientTimeout, [.. connection, "-d", "postgres", "-c", $"drop database if exists {database}", "-c", $"create database {database}"]);
        await ExternalProcess.RunCheckedAsync("pgbench", s_clientTimeout, [.. connection, "-i", "-s", "1", "-q", database]);
        var bench = await ExternalProcess.RunCheckedAsync("pgbench", s_clientTimeout, [.. connection, "-c", "4", "-j", "2", "-t", "100", database]);

        Assert.Contains("number of transactions actually processed: 400/400", bench);
        Assert.Contains("number of failed transactions: 0", bench);
        await AssertPathAsync(proxy, transport, mode);
    }
}
