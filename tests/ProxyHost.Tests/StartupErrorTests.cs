using ProxyHost.Tests.Infrastructure;

namespace ProxyHost.Tests;

/// <summary>How ProxyHost starts, or refuses to, for configuration given on the command line or in a file.</summary>
[Collection(ProxyHostCollection.Name)]
public sealed class StartupErrorTests
{
    [Fact]
    public async Task Start_InvalidTcpRoutes_ExitsOneNamingEveryProblemWithoutStackTrace()
    {
        using var config = new TempConfig("""
            {
              "Kestrel": { "Endpoints": { "Http": { "Url": "http://127.0.0.1:0" } } },
              "ReverseProxy": { "TcpRoutes": { "x": { "Listen": "nope", "ClusterId": "zz" } } }
            }
            """);
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["--config", config.Path]);
        Assert.True(code == 1, output);
        Assert.Contains("ProxyHost could not start", output);
        Assert.Contains("'nope'", output);
        Assert.Contains("'zz'", output);
        Assert.Contains("ProxyHost doctor", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task Start_RouteWithBadModePortAndCluster_ExitsOneNamingAllThree()
    {
        using var config = new TempConfig("""
            {
              "Kestrel": { "Endpoints": { "Http": { "Url": "http://127.0.0.1:0" } } },
              "ReverseProxy": {
                "TcpRoutes": { "x": { "Listen": "127.0.0.1:99999", "ClusterId": "zz", "Mode": "Fast" } },
                "Clusters": { "db": { "Destinations": { "d1": { "Address": "tcp://127.0.0.1:5432" } } } }
              }
            }
            """);
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["--config", config.Path]);
        Assert.True(code == 1, output);
        Assert.Contains("The Mode 'Fast' set on the TCP route 'x'", output);
        Assert.Contains("The Listen '127.0.0.1:99999' set on the TCP route 'x' has the port 99999", output);
        Assert.Contains("The ClusterId 'zz' set on the TCP route 'x'", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task Start_ConfigFileNotJson_OneLineNamingFileLineAndProblemExitsTwo()
    {
        using var config = new TempConfig("""
            {
              "ReverseProxy": {
                "Routes": { "web" { "ClusterId": "web" } }
              }
            }
            """);
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["--config", config.Path]);
        Assert.True(code == 2, output);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith($"ProxyHost could not start: cannot read the configuration file '{config.Path}': line 3, position ", line);
        Assert.Contains("'{' is invalid after a property name", line);
    }

    [Fact]
    public async Task Start_ConfigFileMissing_OneLineNamingTheFileExitsTwo()
    {
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["--config", "/nonexistent/proxyhost.json"]);
        Assert.True(code == 2, output);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Equal("ProxyHost could not start: The configuration file '/nonexistent/proxyhost.json' given with --config does not exist.", line);
    }

    [Fact]
    public async Task Start_CommandLineOverridesOneDemoSetting_DemoStillRunsWithTheOverride()
    {
        await using var host = await ProxyHostProcess.StartAsync(["--ReverseProxy:TcpRoutes:demo-echo:Mode=UserSpace"]);
        Assert.Contains("Routes from  the embedded demo configuration", host.Output);
        await Clients.EchoThroughAsync(host.TcpRoutes["demo-echo"], 10_000);
        var status = await Clients.WaitForStatusAsync(host.AdminUrl,
            s => DemoDefaultTests.Counter(Clients.Route(s, "demo-echo"), "totalConnections") >= 1, "the echo connection");
        var route = Clients.Route(status, "demo-echo");
        Assert.Equal("UserSpace", route.GetProperty("mode").GetString());
        Assert.Contains("UserSpace", route.GetProperty("modeReason").GetString());
    }
}
