using System.Diagnostics;
using System.Net;
using System.Text.Json;
using BpfSteer.Testing;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>A real iperf3 client and server with the data path between them.</summary>
[Collection(DataPathCollection.Name)]
public sealed class Iperf3Tests(ForwarderFixture fixture)
{
    public static TheoryData<TcpForwarderMode> BothPaths => IntegrityTests.BothPaths;

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Iperf3_ThroughForwarder_CompletesAndCountsTheBytes(TcpForwarderMode mode)
    {
        var port = FreePort();
        using var server = Process.Start(new ProcessStartInfo("iperf3", $"-s -1 -B 127.0.0.1 -p {port}") { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            await WaitListening(port);
            var route = mode == TcpForwarderMode.Sockmap ? 7 : 8;
            var before = fixture.Forwarder.GetRouteStats(route);
            await using var proxy = new MiniProxy(fixture.Forwarder, new IPEndPoint(IPAddress.Loopback, port),
                TestRoutes.Config($"route{route}", mode, TimeSpan.FromSeconds(30), 4 << 20), route);
            using var client = Process.Start(new ProcessStartInfo("iperf3", $"-c 127.0.0.1 -p {proxy.EndPoint.Port} -t 2 -J") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var json = await client.StandardOutput.ReadToEndAsync().WithTimeout(TimeSpan.FromSeconds(30));
            await client.WaitForExitAsync().WithTimeout(TimeSpan.FromSeconds(10));
            Assert.True(client.ExitCode == 0, json);
            using var doc = JsonDocument.Parse(json);
            var received = doc.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bytes").GetInt64();
            Assert.True(received > 1 << 20, $"iperf3 moved only {received} bytes");
            await proxy.WaitAllAsync(TimeSpan.FromSeconds(10));
            var results = proxy.Results();
            Assert.True(results.Length >= 2, $"{results.Length} connections: {string.Join("; ", results.Select(r => r.ToString()))}"); // control + data
            Assert.All(results, r => Assert.Equal(mode == TcpForwarderMode.Sockmap ? DataPathKind.Sockmap : DataPathKind.UserSpace, r.Path));
            // iperf3 resets its data stream at the end of a test; the control connection closes cleanly.
            Assert.Contains(results, r => r.CloseReason == CloseReason.Completed);
            Assert.True(results.Sum(r => r.BytesClientToBackend) >= received);
            var after = fixture.Forwarder.GetRouteStats(route);
            Assert.True(after.BytesClientToBackend - before.BytesClientToBackend >= received);
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill();
            }
        }
    }

    private static int FreePort()
    {
        using var s = ProxiedConnection.Listen();
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>Waits for the LISTEN entry in /proc/net/tcp: a probe connection would use up iperf3's one test (-1).</summary>
    private static async Task WaitListening(int port)
    {
        var needle = $":{port:X4} 00000000:0000 0A";
        for (var i = 0; i < 250; i++)
        {
            if (File.ReadAllText("/proc/net/tcp").Contains(needle, StringComparison.Ordinal))
            {
                return;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"iperf3 -s did not listen on {port}");
    }
}
