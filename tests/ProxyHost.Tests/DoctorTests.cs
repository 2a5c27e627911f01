using ProxyHost.Tests.Infrastructure;

namespace ProxyHost.Tests;

/// <summary><c>ProxyHost doctor</c>: what it prints and its exit code (0 works, 1 a configured feature cannot, 2 usage).</summary>
[Collection(ProxyHostCollection.Name)]
public sealed class DoctorTests
{
    private const string SockmapRouteConfig = """
        {
          "ReverseProxy": {
            "TcpRoutes": { "db": { "Listen": "127.0.0.1:0", "ClusterId": "db", "Mode": "Sockmap" } },
            "Clusters": { "db": { "Destinations": { "d1": { "Address": "tcp://127.0.0.1:5432" } } } }
          }
        }
        """;

    [Fact]
    public async Task Doctor_DefaultConfigAsRoot_ExitsZeroAndReportsEachArea()
    {
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["doctor"]);
        Assert.True(code == 0, output);
        Assert.Contains("configuration from the embedded demo configuration", output);
        Assert.Contains("[ ok ] kernel     sockmap:", output);
        Assert.Contains("[ ok ] capability CAP_BPF", output);
        Assert.Contains("[ ok ] datapath   The forwarder's sockmap data path loads and passes its self-test", output);
        Assert.Contains("tcp_migrate_req", output);
        Assert.Contains("RPS on lo", output);
        Assert.Contains("[ ok ] config     1 HTTP route(s), 2 TCP route(s), 3 cluster(s)", output);
    }

    [Fact]
    public async Task Doctor_SockmapRouteWithoutCapabilities_ExitsOneNamingCapabilityAndFix()
    {
        using var config = new TempConfig(SockmapRouteConfig);
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["doctor", "--config", config.Path], Capabilities.DropAll);
        Assert.True(code == 1, output);
        Assert.Contains("[FAIL] capability CAP_BPF is missing", output);
        Assert.Contains("[FAIL] datapath   The sockmap data path does not load here, so the Mode=Sockmap routes db cannot start", output);
        Assert.Contains("Mode=Sockmap", output);
        Assert.Contains("fix: Run as root, or systemd: AmbientCapabilities=CAP_BPF", output);
    }

    [Fact]
    public async Task Doctor_SockmapRouteAsRoot_ExitsZero()
    {
        using var config = new TempConfig(SockmapRouteConfig);
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["doctor", "--config", config.Path]);
        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task Doctor_BrokenRoutes_ExitsOneNamingEverySetting()
    {
        using var config = new TempConfig("""
            {
              "ReverseProxy": {
                "Routes": { "web": { "ClusterId": "nope", "Match": { "Path": "{**all}" } } },
                "TcpRoutes": {
                  "a": { "Listen": "not-an-endpoint", "ClusterId": "http-cluster" },
                  "b": { "Listen": "127.0.0.1:0", "ClusterId": "missing", "Mode": "Fast", "Cpu": 99 }
                },
                "Clusters": { "http-cluster": { "Destinations": { "d1": { "Address": "http://127.0.0.1:8080" } } } }
              }
            }
            """);
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["doctor", "--config", config.Path]);
        Assert.True(code == 1, output);
        Assert.Contains("ReverseProxy:Routes:web:ClusterId is 'nope'", output);
        Assert.Contains("ReverseProxy:TcpRoutes:a:Listen is 'not-an-endpoint'", output);
        Assert.Contains("ReverseProxy:Clusters:http-cluster:Destinations:d1:Address is 'http://127.0.0.1:8080'", output);
        Assert.Contains("ReverseProxy:TcpRoutes:b:ClusterId is 'missing'", output);
        Assert.Contains("ReverseProxy:TcpRoutes:b:Mode is 'Fast'", output);
        Assert.Contains("ReverseProxy:TcpRoutes:b:Cpu is '99'", output);
    }

    [Fact]
    public async Task Doctor_LowPortWithoutCapabilities_ExitsOneNamingNetBindService()
    {
        using var config = new TempConfig("""{ "Kestrel": { "Endpoints": { "Http": { "Url": "http://127.0.0.1:81" } } } }""");
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["doctor", "--config", config.Path], Capabilities.DropAll);
        Assert.True(code == 1, output);
        Assert.Contains("CAP_NET_BIND_SERVICE is missing", output);
    }

    [Fact]
    public async Task Doctor_UrlsWithTcpRoutes_ExitsOneSayingKestrelIgnoresUrls()
    {
        using var config = new TempConfig("""
            {
              "Urls": "http://127.0.0.1:8080",
              "ReverseProxy": {
                "TcpRoutes": { "db": { "Listen": "*:0", "ClusterId": "db" } },
                "Clusters": { "db": { "Destinations": { "d1": { "Address": "tcp://127.0.0.1:5432" } } } }
              }
            }
            """);
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["doctor", "--config", config.Path]);
        Assert.True(code == 1, output);
        Assert.Contains("Urls is 'http://127.0.0.1:8080', which Kestrel ignores", output);
        Assert.Contains("Kestrel:Endpoints", output);
    }

    [Fact]
    public async Task Doctor_AdminUrlBeyondLoopback_WarnsWithFixAndExitsZero()
    {
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["doctor", "--BpfSteer:Admin:Url=http://0.0.0.0:0"]);
        Assert.True(code == 0, output);
        Assert.Contains("[warn] admin      BpfSteer:Admin:Url is 'http://0.0.0.0:0': the admin listener is reachable beyond loopback", output);
        Assert.Contains("fix: Keep BpfSteer:Admin:Url on 127.0.0.1", output);
    }

    [Fact]
    public async Task Doctor_DefaultAdminUrl_OkOnLoopback()
    {
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["doctor"]);
        Assert.True(code == 0, output);
        Assert.Contains("[ ok ] admin      BpfSteer:Admin:Url is 'http://127.0.0.1:0': the status page, JSON, health and metrics are on loopback only", output);
    }

    [Fact]
    public async Task Doctor_AdminUrlSameAsTcpRoute_ExitsOneNamingBothKeys()
    {
        using var config = new TempConfig("""
            {
              "BpfSteer": { "Admin": { "Url": "http://127.0.0.1:6380" } },
              "ReverseProxy": {
                "TcpRoutes": { "db": { "Listen": "*:6380", "ClusterId": "db" } },
                "Clusters": { "db": { "Destinations": { "d1": { "Address": "tcp://127.0.0.1:6379" } } } }
              }
            }
            """);
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["doctor", "--config", config.Path]);
        Assert.True(code == 1, output);
        Assert.Contains("[FAIL] admin      BpfSteer:Admin:Url is 'http://127.0.0.1:6380', the same endpoint as ReverseProxy:TcpRoutes:db:Listen '*:6380'", output);
    }

    [Fact]
    public async Task Doctor_ConfigFileNotJson_ExitsTwoNamingFileAndLine()
    {
        using var config = new TempConfig("{\n  \"Urls\": \n}\n");
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["doctor", "--config", config.Path]);
        Assert.True(code == 2, output);
        Assert.StartsWith($"ProxyHost doctor: cannot read the configuration file '{config.Path}': line 3, position 1: ", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task Doctor_MissingConfigFile_ExitsTwo()
    {
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["doctor", "--config", "/nonexistent/proxyhost.json"]);
        Assert.True(code == 2, output);
        Assert.Contains("/nonexistent/proxyhost.json", output);
    }
}
