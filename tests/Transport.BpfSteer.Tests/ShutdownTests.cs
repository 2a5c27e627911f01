using System.Net;
using System.Net.Sockets;
using BpfSteer.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace Transport.BpfSteer.Tests;

/// <summary>Graceful shutdown, connection churn and dispose: nothing is cut short, nothing leaks.</summary>
[Collection(nameof(CpuBoundCollection))]
public class ShutdownTests
{
    [Theory]
    [InlineData(ApplicationScheduling.ThreadPool)]
    [InlineData(ApplicationScheduling.Inline)]
    public async Task StopAsync_RequestsInFlight_AllComplete(ApplicationScheduling scheduling)
    {
        var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.ApplicationScheduling = scheduling);
        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var requests = Enumerable.Range(0, 20).Select(_ => http.GetStringAsync(new Uri(app.Address, "/delay?ms=1500"))).ToArray();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var inFlight = app.Services.GetRequiredService<InFlight>();
        while (Volatile.Read(ref inFlight.Started) < 20 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal(20, status.Workers.Sum(w => w.ActiveConnections));
        var port = app.Port;

        await app.DisposeAsync(); // StopAsync: unbind, then wait for the requests
        var bodies = await Task.WhenAll(requests).DefaultTimeout();
        Assert.All(bodies, b => Assert.Equal("done", b));
        Assert.Equal(0, status.Workers.Sum(w => w.ActiveConnections));

        using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var refused = await Assert.ThrowsAsync<SocketException>(() => late.ConnectAsync(IPAddress.Loopback, port).DefaultTimeout());
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        app.Errors.AssertNoErrors();
    }

    [Theory]
    [InlineData(ApplicationScheduling.ThreadPool)]
    [InlineData(ApplicationScheduling.Inline)]
    public async Task Churn_TenThousandConnections_FdCountReturnsToStart(ApplicationScheduling scheduling)
    {
        // Warm-up: a first app instance creates the process's lazily made descriptors (thread pool, sockets engine).
        await using (var warm = await StartPlainAsync(scheduling))
        {
            await ChurnAsync(warm.Port, 200);
        }
        var before = FdCount.Current();
        var app = await StartPlainAsync(scheduling);
        try
        {
            var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
            var acceptedBefore = status.Workers.Sum(w => w.Accepted);
            var during = FdCount.Current();
            var duringSnapshot = FdCount.Snapshot();

            await ChurnAsync(app.Port, 10_000);

            Assert.Equal(10_000, status.Workers.Sum(w => w.Accepted) - acceptedBefore);
            // The client has seen every connection end; the worker closes its side a moment later (bounded wait). Only
            // then is the descriptor count meaningful: unrelated descriptors closing meanwhile could otherwise hide a
            // connection still open.
            var closeDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (status.Workers.Sum(w => w.ActiveConnections) > 0 && DateTime.UtcNow < closeDeadline)
            {
                await Task.Delay(20);
            }
            // At most the starting count: unrelated descriptors of the test host may close meanwhile, none may stay open.
            var afterChurn = await FdCount.SettleAsync(during, TimeSpan.FromSeconds(15));
            Assert.True(afterChurn <= during, $"{afterChurn} descriptors open after the churn, {during} before; new: " +
                $"{FdCount.Describe(duringSnapshot, FdCount.Snapshot())}; active {status.Workers.Sum(w => w.ActiveConnections)}");
            Assert.Equal(0, status.Workers.Sum(w => w.ActiveConnections));
            app.Errors.AssertNoErrors();
        }
        finally
        {
            await app.DisposeAsync();
        }
        var afterDispose = await FdCount.SettleAsync(before, TimeSpan.FromSeconds(15));
        Assert.True(afterDispose <= before, $"{afterDispose} descriptors open after dispose, {before} before the app started");
    }

    /// <summary>A plain connection handler: write one byte, return (Kestrel then closes the connection).</summary>
    private static Task<TestApp> StartPlainAsync(ApplicationScheduling scheduling)
        => TestApp.StartAsync(TransportKind.BpfSteer, o => o.ApplicationScheduling = scheduling, kestrel: k => k.Listen(IPAddress.Loopback, 0,
            l => l.Run(async c => await c.Transport.Output.WriteAsync("x"u8.ToArray()))));

    private static Task ChurnAsync(int port, int total)
    {
        const int parallel = 8;
        return Task.WhenAll(Enumerable.Range(0, parallel).Select(_ => Task.Run(() =>
        {
            var one = new byte[1];
            for (var i = 0; i < total / parallel; i++)
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
                s.Connect(IPAddress.Loopback, port);
                Assert.Equal(1, s.Receive(one));
                Assert.Equal(0, s.Receive(one)); // the server's FIN
            }
        }))).WithTimeout(TimeSpan.FromSeconds(120));
    }
}
