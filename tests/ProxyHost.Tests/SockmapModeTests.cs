using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using BpfSteer.Testing;
using ProxyHost.Tests.Infrastructure;

namespace ProxyHost.Tests;

/// <summary>The demo echo route on the in-kernel path: forced by its mode, and chosen by Auto on one usable CPU.</summary>
[Collection(ProxyHostCollection.Name)]
public sealed class SockmapModeTests
{
    [Fact]
    public async Task Start_EchoRouteForcedToSockmap_LongLivedConnectionReportsSockmapAndVerdictRuns()
    {
        await using var host = await ProxyHostProcess.StartAsync(["--ReverseProxy:TcpRoutes:demo-echo:Mode=Sockmap"]);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(host.TcpRoutes["demo-echo"]).DefaultTimeout();
        await using var stream = new NetworkStream(socket);

        // A first exchange, then a pause: the forwarder pairs the sockets while the connection is established.
        await stream.WriteAsync("hello"u8.ToArray()).DefaultTimeout();
        var hello = new byte[5];
        await stream.ReadExactlyAsync(hello).DefaultTimeout();
        await Task.Delay(300);
        var payload = RandomNumberGenerator.GetBytes(256 * 1024);
        var echo = new byte[payload.Length];
        var reading = stream.ReadExactlyAsync(echo).AsTask();
        await stream.WriteAsync(payload).DefaultTimeout();
        await reading.DefaultTimeout();
        Assert.Equal(payload, echo);

        // While it is open the route reports the observed path and where the verdict ran.
        var status = await Clients.WaitForStatusAsync(host.AdminUrl, s =>
        {
            var r = Clients.Route(s, "demo-echo");
            return r.GetProperty("mode").GetString() == "Sockmap" && r.GetProperty("verdictRunsPerCpu").EnumerateArray().Sum(v => v.GetInt64()) > 0;
        }, "the echo route on Sockmap with verdict runs");
        var route = Clients.Route(status, "demo-echo");
        Assert.Equal(Environment.ProcessorCount, route.GetProperty("verdictRunsPerCpu").GetArrayLength());
        Assert.True(Counter(route, "activeConnections") >= 1);
        Assert.Equal("the route's mode is Sockmap", route.GetProperty("modeReason").GetString());
        host.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Start_PinnedToOneCpu_AutoEchoRouteMovesBulkConnectionToSockmap()
    {
        // A service or container limited to one CPU: Auto still moves a bulk connection to the kernel path, which
        // measured faster than user space there under the queue bound (docs/design.md, "CPU affinity: the placement rule").
        await using var host = await ProxyHostProcess.StartAsync([], ["taskset", "-c", "0"]);
        Assert.Equal("0", AllowedCpus(host.Pid));
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(host.TcpRoutes["demo-echo"]).DefaultTimeout();
        await using var stream = new NetworkStream(socket);

        // 1 MiB echoes on one open connection: the first turns it bulk and it moves once the relay holds nothing; from
        // then on its bytes pass the verdict. The connection stays open (a closing connection is never moved).
        JsonElement route = default;
        var verdicts = 0L;
        for (var round = 0; round < 16 && verdicts == 0; round++)
        {
            var payload = RandomNumberGenerator.GetBytes(1 << 20);
            var echo = new byte[payload.Length];
            var reading = stream.ReadExactlyAsync(echo).AsTask();
            await stream.WriteAsync(payload).DefaultTimeout();
            await reading.DefaultTimeout();
            Assert.Equal(payload, echo);
            route = Clients.Route(await Clients.StatusAsync(host.AdminUrl), "demo-echo");
            verdicts = route.GetProperty("verdictRunsPerCpu").EnumerateArray().Sum(v => v.GetInt64());
        }
        Assert.Equal("Sockmap", route.GetProperty("mode").GetString());
        Assert.True(verdicts > 0, $"16 MiB echoed on one connection, no verdict run: {route.GetProperty("modeReason").GetString()}");
        host.AssertNoErrorsLogged();
    }

    private static string AllowedCpus(int pid) => File.ReadLines($"/proc/{pid}/status")
        .Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))["Cpus_allowed_list:".Length..].Trim();

    private static long Counter(JsonElement e, string name) => e.GetProperty(name).GetInt64();
}
