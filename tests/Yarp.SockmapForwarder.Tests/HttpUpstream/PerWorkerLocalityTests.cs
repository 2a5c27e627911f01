using Yarp.SockmapForwarder.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Yarp.SockmapForwarder.Tests.HttpUpstream;

/// <summary>
/// Locality, measured: keep-alive clients pinned to each CPU reach that CPU's worker; the transport's counters say,
/// per worker, how many upstream reads and writes of those requests ran on the worker's CPU. With per-worker pools
/// every one should; with one shared pool (the option off) the share is whatever the runtime's socket engine and
/// thread pool give, and is reported. Measures CPU placement: run it under the quiet lock.
/// </summary>
public class PerWorkerLocalityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task UpstreamIo_ClientsPinnedPerCpu_CountedPerWorker(bool perWorker)
    {
        await using var backend = await UpstreamBackend.StartAsync();
        var config = HttpProxy.Config(backend.Url).Set("BpfSteer:HttpUpstream:PerWorker", perWorker ? "true" : "false");
        await using var proxy = await HttpProxy.StartAsync(config);

        var statuses = await Task.WhenAll(
            PinnedHttp.GetAsync(cpu: 0, proxy.Address.Port, "/", connections: 4, rounds: 100),
            PinnedHttp.GetAsync(cpu: 1, proxy.Address.Port, "/", connections: 4, rounds: 100)).DefaultTimeout();
        Assert.All(statuses.SelectMany(s => s), s => Assert.Equal(200, s));

        var workers = proxy.Workers;
        foreach (var w in workers)
        {
            output.WriteLine($"per-worker pools {(perWorker ? "on" : "off")}, worker CPU {w.Cpu}: {w.UpstreamOperationsOnWorkerCpu}/{w.UpstreamOperations} " +
                $"upstream reads and writes on the worker's CPU ({w.UpstreamLocality:P1}); connections opened {w.UpstreamConnectionsOpened}");
        }
        // Every request of a worker's clients made at least one upstream write and one read, counted for that worker.
        Assert.All(workers, w => Assert.True(w.UpstreamOperations >= 2 * 400, $"worker {w.Cpu}: {w.UpstreamOperations} upstream calls"));
        if (perWorker)
        {
            Assert.All(workers, w => Assert.True(w.UpstreamLocality >= 0.99, $"worker {w.Cpu}: {w.UpstreamLocality:P2}"));
            Assert.All(workers, w => Assert.True(w.UpstreamConnectionsOpened > 0, $"worker {w.Cpu} opened no upstream connection"));
        }
        else
        {
            Assert.Equal(0, workers.Sum(w => w.UpstreamConnectionsOpened)); // one shared pool, no worker owns a connection
        }
        proxy.Logs.AssertNoErrors();
    }
}
