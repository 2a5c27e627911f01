namespace Transport.BpfSteer.Tests;

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
