using BpfSteer.Transport;

namespace Transport.BpfSteer.Tests;

/// <summary>Where the application runs: on the accepting worker (Inline) or on the thread pool.</summary>
[Collection(nameof(CpuBoundCollection))]
public class SchedulingTests
{
    [Theory]
    [InlineData(ApplicationScheduling.Inline, true)]
    [InlineData(ApplicationScheduling.ThreadPool, false)]
    public async Task KeepAliveRequests_HandlerThread_IsWorkerOnlyInInlineMode(ApplicationScheduling scheduling, bool onWorker)
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.ApplicationScheduling = scheduling);
        var url = new Uri(app.Address, "/thread").ToString();
        // The first request may run where Kestrel dispatched the connection; later ones resume from the input pipe.
        var lines = (await ClientProcess.CurlAsync("--http1.1", url, url, url, url)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        foreach (var line in lines.Skip(1))
        {
            var parts = line.Split('|');
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
