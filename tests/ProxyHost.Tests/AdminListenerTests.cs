using System.Text.Json;
using ProxyHost.Tests.Infrastructure;

namespace ProxyHost.Tests;

/// <summary>
/// The admin listener (BpfSteer:Admin:Url) serves /bpfsteer, /bpfsteer/status, /healthz and /metrics and nothing else;
/// the proxy's endpoints forward every path, those included, to the proxied application.
/// </summary>
[Collection(ProxyHostCollection.Name)]
public sealed class AdminListenerTests(CatchAllHostFixture fixture) : IClassFixture<CatchAllHostFixture>
{
    private static readonly string[] s_adminPaths = ["/healthz", "/bpfsteer/status", "/bpfsteer", "/metrics"];

    [Fact]
    public async Task ProxyPort_AdminPathsWithCatchAllRoute_BackendAnswersEach()
    {
        foreach (var path in s_adminPaths)
        {
            var (status, body) = await Clients.CurlStatusAsync(fixture.Host.HttpUrl + path);
            Assert.Equal(200, status);
            Assert.Equal($"backend saw GET {path}", body);
        }
        Assert.All(s_adminPaths, path => Assert.Contains(path, fixture.Backend.Paths));
    }

    [Fact]
    public async Task ProxyPort_HostHeaderNamingTheAdminPort_StillForwarded()
    {
        // The split is keyed on the connection, not on the Host header a client writes.
        var admin = new Uri(fixture.Host.AdminUrl);
        var (status, body) = await Clients.CurlStatusAsync(fixture.Host.HttpUrl + "/bpfsteer/status", "-H", $"Host: {admin.Authority}");
        Assert.Equal(200, status);
        Assert.Equal("backend saw GET /bpfsteer/status", body);
    }

    [Fact]
    public async Task AdminListener_AdminPaths_AnsweredByProxyHost()
    {
        var before = fixture.Backend.Paths.Count;
        using (var health = JsonDocument.Parse(await Clients.CurlAsync(fixture.Host.AdminUrl + "/healthz")))
        {
            Assert.Equal(["bpf", "routes"], health.RootElement.GetProperty("checks").EnumerateObject().Select(c => c.Name).Order());
        }
        var status = await Clients.StatusAsync(fixture.Host.AdminUrl);
        Assert.Equal(1, status.GetProperty("version").GetInt32());
        Assert.StartsWith("<!DOCTYPE html>", await Clients.CurlAsync(fixture.Host.AdminUrl + "/bpfsteer"));
        Assert.Contains("# TYPE ", await Clients.CurlAsync(fixture.Host.AdminUrl + "/metrics"));
        Assert.Equal(before, fixture.Backend.Paths.Count);
    }

    [Fact]
    public async Task AdminListener_OtherPaths_NotFoundAndNeverForwarded()
    {
        string[] others = ["/", "/app", "/bpfsteer/other", "/healthz/x", CatchAllHostFixture.ProxyHealthPath];
        foreach (var path in others)
        {
            var (status, _) = await Clients.CurlStatusAsync(fixture.Host.AdminUrl + path);
            Assert.True(status == 404, $"GET {path} on the admin listener answered {status}");
        }
        Assert.DoesNotContain(fixture.Backend.Paths, p => others.Contains(p));
    }

    [Fact]
    public async Task ProxyHealthPath_Configured_ProxyPortAnswersTheStatusWordOnly()
    {
        var (status, body) = await Clients.CurlStatusAsync(fixture.Host.HttpUrl + CatchAllHostFixture.ProxyHealthPath);
        Assert.Equal(200, status);
        Assert.Equal("Healthy", body);
        Assert.DoesNotContain(CatchAllHostFixture.ProxyHealthPath, fixture.Backend.Paths);
        Assert.Contains($"Health       {CatchAllHostFixture.ProxyHealthPath} on the proxy's HTTP endpoints", fixture.Host.Output);
    }

    [Fact]
    public void Summary_ConfigFile_ListeningBlockEndsWithAdminLineAndStatusLinePointsThere()
    {
        var lines = fixture.Host.Output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var listening = lines.IndexOf("Listening:");
        Assert.Equal($"  http {fixture.Host.HttpUrl}", lines[listening + 1]);
        Assert.Equal($"  admin {fixture.Host.AdminUrl}", lines[listening + 2]);
        Assert.Matches(@"^http://127\.0\.0\.1:\d+$", fixture.Host.AdminUrl);
        Assert.NotEqual(fixture.Host.HttpUrl, fixture.Host.AdminUrl);
        Assert.Contains($"Admin: {fixture.Host.AdminUrl}/bpfsteer (page), {fixture.Host.AdminUrl}/bpfsteer/status (JSON)", fixture.Host.Output);
        Assert.Contains("loopback only", fixture.Host.Output);
    }
}
