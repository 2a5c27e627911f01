using Xunit.Abstractions;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

/// <summary>
/// The TCP route loops' idle spin (<see cref="SockmapForwarderOptions.IdleSpin"/>): small exchanges sent back to back
/// through a user-space route come back to the loop a few tens of microseconds after it relayed the previous one, so
/// with a spin some of them are found while the loop still polls; with the spin off the loops never poll.
/// </summary>
public class TcpRouteIdleSpinTests(ITestOutputHelper output)
{
    private const int Exchanges = 200;

    [Fact]
    public async Task IdleSpin_ExchangesBackToBack_SomeFoundWhileTheLoopPolls()
    {
        await using var echo = new EchoServer();
        await using var proxy = await StartAsync(echo, "00:00:00.001");
        await ExchangeBackToBackAsync(proxy);

        var loops = proxy.Status.Loops;
        Assert.NotEmpty(loops);
        output.WriteLine($"{Exchanges} exchanges: {loops.Sum(l => l.IdleSpinHits)} idle moments ended by work found while polling, {loops.Sum(l => l.IdleSleeps)} by sleeping");
        Assert.InRange(loops.Sum(l => l.IdleSpinHits), 1, long.MaxValue);
        Assert.All(loops, l => Assert.Equal(0, l.Connections));
        proxy.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task IdleSpinOff_ExchangesBackToBack_LoopsNeverPoll()
    {
        await using var echo = new EchoServer();
        await using var proxy = await StartAsync(echo, "00:00:00");
        await ExchangeBackToBackAsync(proxy);

        var loops = proxy.Status.Loops;
        Assert.NotEmpty(loops);
        Assert.All(loops, l => Assert.Equal(0, l.IdleSpinHits));
        Assert.All(loops, l => Assert.Equal(0, l.IdleSleeps));
        proxy.Logs.AssertNoErrors();
    }

    private static Task<ProxyApp> StartAsync(EchoServer echo, string idleSpin)
    {
        var config = new ProxyConfig().Route("r", "c", settings: ("Mode", "UserSpace")).Cluster("c", null, ("d1", echo.Address))
            .Set("BpfSteer:Forwarder:IdleSpin", idleSpin);
        return ProxyApp.StartAsync(config, TransportKind.BpfSteer);
    }

    private static async Task ExchangeBackToBackAsync(ProxyApp proxy)
    {
        using (var client = await Net.ConnectAsync(proxy.EndPoint("r")))
        {
            var data = Net.Pattern(64);
            for (var i = 0; i < Exchanges; i++)
            {
                Assert.Equal(data, await Net.RoundTripAsync(client, data));
            }
        }
        await Poll.UntilAsync(() => proxy.Status.Routes.Single().ActiveConnections == 0, "the connection to end");
        Assert.Equal(1, proxy.Status.Routes.Single().TotalConnections);
    }
}
