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
