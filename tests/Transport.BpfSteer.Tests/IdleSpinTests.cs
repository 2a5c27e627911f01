using System.Net;
using System.Net.Sockets;
using BpfSteer.Testing;
using BpfSteer.Transport;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// The idle spin (<see cref="BpfSteerTransportOptions.IdleSpin"/>): a worker that runs out of events keeps polling for
/// a while before it sleeps. Requests sent back to back on one keep-alive connection arrive a few tens of microseconds
/// after the worker answered the previous one, so with a spin some of them are found while the worker still polls;
/// with the spin off the worker never polls and counts nothing.
/// </summary>
[Collection(nameof(CpuBoundCollection))]
public class IdleSpinTests(ITestOutputHelper output)
{
    private const int Requests = 200;

    [Fact]
    public async Task IdleSpin_RequestsBackToBack_SomeFoundWhileTheWorkerPolls()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.IdleSpin = TimeSpan.FromMilliseconds(1));
        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        await SendBackToBackAsync(app.Port);

        var hits = status.Workers.Sum(w => w.IdleSpinHits);
        var sleeps = status.Workers.Sum(w => w.IdleSleeps);
        output.WriteLine($"{Requests} requests: {hits} idle moments ended by work found while polling, {sleeps} by sleeping");
        Assert.InRange(hits, 1, long.MaxValue);
        app.Errors.AssertNoErrors();
    }

    [Fact]
    public async Task IdleSpinOff_RequestsBackToBack_WorkerNeverPolls()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.IdleSpin = TimeSpan.Zero);
        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        await SendBackToBackAsync(app.Port);

        Assert.Equal(1, status.Workers.Sum(w => w.Accepted));
        Assert.All(status.Workers, w => Assert.Equal(0, w.IdleSpinHits));
        Assert.All(status.Workers, w => Assert.Equal(0, w.IdleSleeps));
        app.Errors.AssertNoErrors();
    }

    private static async Task SendBackToBackAsync(int port)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).DefaultTimeout();
        for (var i = 0; i < Requests; i++)
        {
            Assert.Equal("Hello, World!", await RawHttp.GetAsync(client, "/plaintext"));
        }
    }
}
