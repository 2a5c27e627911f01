namespace Transport.BpfSteer.Tests;

public class BasicTests
{
    [Fact]
    public async Task Get_Plaintext_OverBpfSteer_ReturnsBody()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer);
        var body = await ClientProcess.CurlAsync(new Uri(app.Address, "/plaintext").ToString());
        Assert.Equal("Hello, World!", body);
        var conn = await ClientProcess.CurlAsync(new Uri(app.Address, "/conn").ToString());
        Assert.NotEqual("none", conn);
        app.Errors.AssertNoErrors();
    }
}

public class AddressFamilyTests
{
    [Fact]
    public async Task Ipv6LoopbackEndpoint_Curl_ServedWithIpv6Endpoints()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, url: "http://[::1]:0");
        Assert.Equal("Hello, World!", await ClientProcess.CurlAsync("-g", $"http://[::1]:{app.Port}/plaintext"));
        var conn = (await ClientProcess.CurlAsync("-g", $"http://[::1]:{app.Port}/conn")).Split(' ');
        Assert.Equal(3, conn.Length);
        app.Errors.AssertNoErrors();
    }
}
