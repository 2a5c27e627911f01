using System.Net;
using System.Net.Sockets;
using ProxyHost.Tests.Infrastructure;

namespace ProxyHost.Tests;

/// <summary>BpfSteer:Admin:Url that cannot work stops the start naming the key; beyond loopback it works and says so.</summary>
[Collection(ProxyHostCollection.Name)]
public sealed class AdminListenerStartupTests
{
    [Fact]
    public async Task Start_AdminUrlSameAsProxyEndpoint_ExitsOneNamingBothKeys()
    {
        var port = FreePort();
        var (code, output) = await ProxyHostProcess.RunToExitAsync(
            [$"--Kestrel:Endpoints:Http:Url=http://127.0.0.1:{port}", $"--BpfSteer:Admin:Url=http://127.0.0.1:{port}"]);
        Assert.True(code == 1, output);
        Assert.Contains($"BpfSteer:Admin:Url is 'http://127.0.0.1:{port}', the same endpoint as Kestrel:Endpoints:Http:Url", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task Start_AdminPortInUse_ExitsOneNamingTheKey()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)holder.LocalEndpoint).Port}";
        var (code, output) = await ProxyHostProcess.RunToExitAsync([$"--BpfSteer:Admin:Url={url}"]);
        Assert.True(code == 1, output);
        Assert.Contains($"BpfSteer:Admin:Url is '{url}', which cannot be bound: the port is already in use", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task Start_AdminAddressNotOnThisMachine_ExitsOneNamingTheKey()
    {
        // 192.0.2.1 is TEST-NET-1 (documentation only): never a local address; binding fails before any packet is sent.
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["--BpfSteer:Admin:Url=http://192.0.2.1:0"]);
        Assert.True(code == 1, output);
        Assert.Contains("BpfSteer:Admin:Url is 'http://192.0.2.1:0', which cannot be bound: this machine has no such address", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task Start_AdminUrlNotAUrl_ExitsOneNamingTheKey()
    {
        var (code, output) = await ProxyHostProcess.RunToExitAsync(["--BpfSteer:Admin:Url=admin.example:9901"]);
        Assert.True(code == 1, output);
        Assert.Contains("BpfSteer:Admin:Url is 'admin.example:9901': it is not a URL", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task Start_AdminUrlEveryAddress_ServesAndSaysItIsBeyondLoopback()
    {
        await using var host = await ProxyHostProcess.StartAsync(["--BpfSteer:Admin:Url=http://*:0"]);
        Assert.Contains("reachable beyond loopback (BpfSteer:Admin:Url)", host.Output);
        Assert.Contains("warn: ProxyHost[7]", host.Output);
        Assert.Equal("Healthy", System.Text.Json.JsonDocument.Parse(await Clients.CurlAsync(host.AdminUrl + "/healthz")).RootElement.GetProperty("status").GetString());
        host.AssertNoErrorsLogged();
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
