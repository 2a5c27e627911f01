using System.Net;
using System.Net.Sockets;
using BpfSteer.Transport;
using Microsoft.Extensions.DependencyInjection;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// With Inline scheduling (the default) a handler that blocks stalls its worker: the transport notices within about
/// a second and counts it (and logs WorkerBlocked); with ThreadPool scheduling the same handler never blocks a worker.
/// </summary>
public class WorkerWatchdogTests
{
    [Theory]
    [InlineData(ApplicationScheduling.Inline, true)]
    [InlineData(ApplicationScheduling.ThreadPool, false)]
    public async Task BlockingHandler_OnKeepAliveConnection_CountedOnlyWhenItBlocksTheWorker(ApplicationScheduling scheduling, bool blocksWorker)
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.ApplicationScheduling = scheduling);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, app.Port).DefaultTimeout();
        // Kestrel runs a connection's first request on the thread pool; after an idle pause the next read resumes
        // through the transport, i.e. on the worker with Inline scheduling.
        await RawHttp.GetAsync(client, "/plaintext");
        await Task.Delay(100);
        Assert.Contains("unblocked", await RawHttp.GetAsync(client, "/block?ms=1800"));

        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        if (blocksWorker)
        {
            Assert.Equal(1, status.Workers.Sum(w => w.BlockedEpisodes));
        }
        else
        {
            Assert.Equal(0, status.Workers.Sum(w => w.BlockedEpisodes));
        }
        app.Errors.AssertNoErrors();
    }

    [Fact]
    public void Options_Default_IsInline()
        => Assert.Equal(ApplicationScheduling.Inline, new BpfSteerTransportOptions().ApplicationScheduling);
}
