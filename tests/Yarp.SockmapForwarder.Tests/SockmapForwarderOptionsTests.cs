using System.Net.Sockets;
using Yarp.SockmapForwarder.Internal;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

/// <summary>The process-wide forwarder settings come from <c>BpfSteer:Forwarder</c>; bad values name their key.</summary>
public class SockmapForwarderOptionsTests
{
    [Fact]
    public async Task Configuration_SteeringEnabled_RouteStatusShowsTheSteeringDecision()
    {
        await using var echo = new EchoServer();
        var config = new ProxyConfig().Route("r", "c", settings: [("Mode", "Sockmap"), ("Cpu", "1")])
            .Cluster("c", null, ("d1", echo.Address))
            .Set("BpfSteer:Forwarder:Steering:Enabled", "true");
        await using var proxy = await ProxyApp.StartAsync(config, TransportKind.BpfSteer);

        using (var client = await Net.ConnectAsync(proxy.EndPoint("r")))
        {
            Assert.Equal("x"u8.ToArray(), await Net.RoundTripAsync(client, "x"u8.ToArray()));
        }

        // Steering was tried: "rfs" where RFS is configured, otherwise the reason it is not (never "disabled").
        var steering = proxy.Status.Routes.Single().Steering;
        Assert.True(steering == "rfs" || steering.StartsWith("none: ", StringComparison.Ordinal), steering);
        Assert.DoesNotContain("disabled", steering);
        proxy.Logs.AssertNoErrors();
    }

    [Theory]
    [InlineData("BpfSteer:Forwarder:SockmapCapacity", "0")]
    [InlineData("BpfSteer:Forwarder:Steering:RefreshInterval", "00:00:00.001")]
    [InlineData("BpfSteer:Forwarder:KernelQueueBudget", "1048576")]
    [InlineData("BpfSteer:Forwarder:IdleSpin", "00:00:00.002")]
    [InlineData("BpfSteer:Forwarder:IdleSpin", "-00:00:00.001")]
    public async Task Configuration_OutOfRangeValue_FailsNamingTheKey(string key, string value)
    {
        await using var echo = new EchoServer();
        var config = new ProxyConfig().Route("r", "c").Cluster("c", null, ("d1", echo.Address)).Set(key, value);
        var ex = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var proxy = await ProxyApp.StartAsync(config, TransportKind.BpfSteer);
            using var client = await Net.ConnectAsync(proxy.EndPoint("r"));
            await Net.RoundTripAsync(client, "x"u8.ToArray());
        });
        Assert.Contains(key, Flatten(ex));
    }

    [Fact]
    public async Task Configuration_MalformedValue_FailsNamingTheKey()
    {
        await using var echo = new EchoServer();
        var config = new ProxyConfig().Route("r", "c").Cluster("c", null, ("d1", echo.Address))
            .Set("BpfSteer:Forwarder:Steering:Enabled", "perhaps");
        var ex = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var proxy = await ProxyApp.StartAsync(config, TransportKind.BpfSteer);
        });
        Assert.Contains("BpfSteer:Forwarder:Steering:Enabled", Flatten(ex));
    }

    [Fact]
    public void Validate_RefreshIntervalTooShort_ErrorNamesTheSetting()
    {
        var options = new SockmapForwarderOptions { Steering = new() { Enabled = true, RefreshInterval = TimeSpan.FromMilliseconds(1) } };
        var result = new SockmapForwarderOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains("BpfSteer:Forwarder:Steering:RefreshInterval", result.FailureMessage);
    }

    [Fact]
    public void Validate_SeveralBadValues_ReportsEveryOne()
    {
        var options = new SockmapForwarderOptions
        {
            SockmapCapacity = 0,
            PlacementHold = TimeSpan.FromSeconds(-1),
            Steering = new() { SockFlowEntries = 0, FlowCountPerQueue = -1, RefreshInterval = TimeSpan.FromHours(2) },
        };
        var failures = new SockmapForwarderOptionsValidator().Validate(null, options).Failures!.ToList();
        Assert.Equal(5, failures.Count);
        foreach (var key in new[] { "SockmapCapacity", "PlacementHold", "Steering:SockFlowEntries", "Steering:FlowCountPerQueue", "Steering:RefreshInterval" })
        {
            Assert.Single(failures, f => f.Contains($"'BpfSteer:Forwarder:{key}'", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Validate_Defaults_Succeed()
        => Assert.True(new SockmapForwarderOptionsValidator().Validate(null, new SockmapForwarderOptions()).Succeeded);

    private static string Flatten(Exception ex) => ex is AggregateException a ? string.Join("\n", a.Flatten().InnerExceptions.Select(e => e.ToString())) : ex.ToString();
}
