using System.Net;
using System.Net.Sockets;
using ProxyHost.Tests.Infrastructure;

namespace ProxyHost.Tests;

/// <summary><c>--config FILE</c>: real routes to backends the test owns, and no demo backends.</summary>
[Collection(ProxyHostCollection.Name)]
public sealed class ConfigFileTests
{
    [Fact]
    public async Task Start_ConfigFile_RunsItsTcpRouteToTheRealBackendWithoutDemo()
    {
        // The test's own backend: an echo server that is not part of ProxyHost.
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        using var stop = new CancellationTokenSource();
        var serving = ServeEchoAsync(backend, stop.Token);

        using var config = new TempConfig($$"""
            {
              "Kestrel": { "Endpoints": { "Http": { "Url": "http://127.0.0.1:0" } } },
              "ReverseProxy": {
                "TcpRoutes": { "mine": { "Listen": "127.0.0.1:0", "ClusterId": "mine" } },
                "Clusters": { "mine": { "Destinations": { "d1": { "Address": "tcp://{{backend.LocalEndpoint}}" } } } }
              }
            }
            """);
        await using (var host = await ProxyHostProcess.StartAsync(["--config", config.Path]))
        {
            Assert.Contains($"Routes from  {config.Path}", host.Output);
            Assert.DoesNotContain("demo", host.Output, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(["mine"], host.TcpRoutes.Keys);

            await Clients.EchoThroughAsync(host.TcpRoutes["mine"], 300_000);
            await Clients.WaitForStatusAsync(host.AdminUrl,
                s => DemoDefaultTests.Counter(Clients.Route(s, "mine"), "bytesClientToBackend") >= 300_000, "the route's bytes");
            host.AssertNoErrorsLogged();
        }
        stop.Cancel();
        backend.Stop();
        await serving;
    }

    [Theory]
    [InlineData(null, 0)]
    [InlineData("Information", 3)]
    public async Task AccessLog_LevelFromConfiguration_OneLinePerConnectionOnlyWhenTurnedOn(string? level, int expectedLines)
    {
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        using var stop = new CancellationTokenSource();
        var serving = ServeEchoAsync(backend, stop.Token);
        var logging = level is null ? "" : $$"""
            "Logging": { "LogLevel": { "Yarp.SockmapForwarder.AccessLog": "{{level}}" } },
            """;
        using var config = new TempConfig($$"""
            {
              {{logging}}
              "Kestrel": { "Endpoints": { "Http": { "Url": "http://127.0.0.1:0" } } },
              "ReverseProxy": {
                "TcpRoutes": { "mine": { "Listen": "127.0.0.1:0", "ClusterId": "mine" } },
                "Clusters": { "mine": { "Destinations": { "d1": { "Address": "tcp://{{backend.LocalEndpoint}}" } } } }
              }
            }
            """);
        string output;
        await using (var host = await ProxyHostProcess.StartAsync(["--config", config.Path]))
        {
            for (var i = 0; i < 3; i++)
            {
                await Clients.EchoThroughAsync(host.TcpRoutes["mine"], 1000);
            }
            await Clients.WaitForStatusAsync(host.AdminUrl,
                s => DemoDefaultTests.Counter(Clients.Route(s, "mine"), "bytesClientToBackend") >= 3000, "the route's bytes");
            host.AssertNoErrorsLogged();
            // The graceful stop below writes every queued access-log line before the process exits.
            await host.DisposeAsync();
            output = host.Output;
        }
        var lines = output.Split('\n').Count(l => l.Contains("Yarp.SockmapForwarder.AccessLog[207] mine ", StringComparison.Ordinal));
        Assert.Equal(expectedLines, lines);
        stop.Cancel();
        backend.Stop();
        await serving;
    }

    private static async Task ServeEchoAsync(TcpListener listener, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                var client = await listener.AcceptSocketAsync(ct);
                _ = Task.Run(async () =>
                {
                    using (client)
                    await using (var s = new NetworkStream(client))
                    {
                        await s.CopyToAsync(s, ct);
                        client.Shutdown(SocketShutdown.Send);
                    }
                }, ct);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
    }
}
