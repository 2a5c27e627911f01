using System.Net;
using System.Net.Sockets;
using System.Text;
using BpfSteer.Transport;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// Where the application runs: Inline mode resumes Kestrel's reads through the worker's pipe scheduler, so a request
/// that arrives while Kestrel waits for it is processed on the accepting worker's thread, on its CPU. (Kestrel starts
/// each connection on the thread pool, and a read that finds data already buffered completes on the calling thread.)
/// </summary>
[Collection(nameof(CpuBoundCollection))]
public class SchedulingTests
{
    [Theory]
    [InlineData(ApplicationScheduling.Inline, true)]
    [InlineData(ApplicationScheduling.ThreadPool, false)]
    public async Task KeepAliveRequestAfterIdle_HandlerThread_IsWorkerOnlyInInlineMode(ApplicationScheduling scheduling, bool onWorker)
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.ApplicationScheduling = scheduling);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, app.Port).DefaultTimeout();
        var lines = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            // The pause lets Kestrel finish the previous request and wait in ReadAsync before the next one arrives.
            await Task.Delay(100);
            lines.Add(await RawHttp.GetAsync(client, "/thread"));
        }
        foreach (var line in lines.Skip(1))
        {
            var parts = line.Trim().Split('|');
            var (thread, cpu, workerCpu) = (parts[0], int.Parse(parts[1]), int.Parse(parts[2]));
            if (onWorker)
            {
                Assert.Equal($"bpfsteer-cpu{workerCpu}", thread);
                Assert.Equal(workerCpu, cpu);
            }
            else
            {
                Assert.DoesNotContain("bpfsteer", thread);
            }
        }
        app.Errors.AssertNoErrors();
    }
}
