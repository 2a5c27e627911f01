using System.Text.Json;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

/// <summary>Real clients and servers through a TCP route: redis-benchmark, curl, iperf3, psql and pgbench.</summary>
public class TcpRouteRealClientTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan s_clientTimeout = TimeSpan.FromSeconds(90);

    private static ProxyConfig RouteTo(int port) => new ProxyConfig().Route("r", "c").Cluster("c", null, ("d1", ProxyConfig.Tcp(port)));

    [Theory]
    [MemberData(nameof(TcpRouteForwardingTests.Transports), MemberType = typeof(TcpRouteForwardingTests))]
    public async Task RedisBenchmark_ThroughRoute_CompletesSetAndGet(TransportKind transport)
    {
        var redisPort = Net.FreePort();
        await using var redis = ExternalProcess.Start("redis-server", "--port", redisPort.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no");
        await redis.WaitForOutputAsync("Ready to accept connections", TimeSpan.FromSeconds(20));
        await using var proxy = await ProxyApp.StartAsync(RouteTo(redisPort), transport);
        var port = proxy.Port("r").ToString();

        var output = await ExternalProcess.RunCheckedAsync("redis-benchmark", s_clientTimeout, "-h", "127.0.0.1", "-p", port, "-n", "5000", "-c", "20", "-t", "set,get", "-q");

        Assert.Contains("SET:", output);
        Assert.Contains("GET:", output);
        Assert.Equal("OK", (await ExternalProcess.RunCheckedAsync("redis-cli", s_clientTimeout, "-h", "127.0.0.1", "-p", port, "set", "sockmap", "yes")).Trim());
        Assert.Equal("yes", (await ExternalProcess.RunCheckedAsync("redis-cli", s_clientTimeout, "-h", "127.0.0.1", "-p", port, "get", "sockmap")).Trim());
        proxy.Logs.AssertNoErrors();
    }

    [Theory]
    [MemberData(nameof(TcpRouteForwardingTests.Transports), MemberType = typeof(TcpRouteForwardingTests))]
    public async Task Curl_ThroughRoute_GetsHttpBackendResponses(TransportKind transport)
    {
        await using var web = await HttpBackend.StartAsync();
        await using var proxy = await ProxyApp.StartAsync(RouteTo(web.Port), transport);
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
        proxy.Logs.AssertNoErrors();
    }

    [Theory]
    [MemberData(nameof(TcpRouteForwardingTests.Transports), MemberType = typeof(TcpRouteForwardingTests))]
    public async Task Iperf3_ThroughRoute_TransfersBothWays(TransportKind transport)
    {
        var iperfPort = Net.FreePort();
        await using var server = ExternalProcess.Start("iperf3", "-s", "--forceflush", "-p", iperfPort.ToString(), "-B", "127.0.0.1");
        await server.WaitForOutputAsync("Server listening", TimeSpan.FromSeconds(20));
        await using var proxy = await ProxyApp.StartAsync(RouteTo(iperfPort), transport);
        var port = proxy.Port("r").ToString();

        foreach (var reverse in new[] { false, true })
        {
            string[] args = ["-c", "127.0.0.1", "-p", port, "-t", "2", "-J", .. reverse ? new[] { "-R" } : []];
            var json = await ExternalProcess.RunCheckedAsync("iperf3", s_clientTimeout, args);
            using var doc = JsonDocument.Parse(json);
            Assert.False(doc.RootElement.TryGetProperty("error", out var error), $"iperf3 {(reverse ? "-R " : "")}failed: {error}");
            var received = doc.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bytes").GetInt64();
            Assert.True(received > 1_000_000, $"iperf3 {(reverse ? "-R " : "")}moved only {received} bytes");
        }
        proxy.Logs.AssertNoErrors();
    }

    [Theory]
    [MemberData(nameof(TcpRouteForwardingTests.Transports), MemberType = typeof(TcpRouteForwardingTests))]
    public async Task PsqlAndPgbench_ThroughRoute_RunAgainstPostgres(TransportKind transport)
    {
        await using var proxy = await ProxyApp.StartAsync(RouteTo(postgres.Port), transport);
        var port = proxy.Port("r").ToString();
        string[] connection = ["-h", "127.0.0.1", "-p", port, "-U", "postgres"];

        var answer = await ExternalProcess.RunCheckedAsync("psql", s_clientTimeout, [.. connection, "-d", "postgres", "-At", "-c", "select 6 * 7"]);
        Assert.Equal("42", answer.Trim());

        var database = "bench_" + transport.ToString().ToLowerInvariant();
        await ExternalProcess.RunCheckedAsync("psql", s_clientTimeout, [.. connection, "-d", "postgres", "-c", $"drop database if exists {database}", "-c", $"create database {database}"]);
        await ExternalProcess.RunCheckedAsync("pgbench", s_clientTimeout, [.. connection, "-i", "-s", "1", "-q", database]);
        var bench = await ExternalProcess.RunCheckedAsync("pgbench", s_clientTimeout, [.. connection, "-c", "4", "-j", "2", "-t", "100", database]);

        Assert.Contains("number of transactions actually processed: 400/400", bench);
        Assert.Contains("number of failed transactions: 0", bench);
        proxy.Logs.AssertNoErrors();
    }
}
