using Yarp.SockmapForwarder.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Yarp.SockmapForwarder.Tests.HttpUpstream;

/// <summary>
/// A cluster's MaxConnectionsPerServer bounds the connections of all workers' pools together: requests in flight on
/// both workers at once never make the backend see more connections than the limit, and all of them are served.
/// </summary>
public class PerWorkerPoolLimitTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)] // fewer connections than workers: one worker sends through the other's pool
    [InlineData(2)]
    [InlineData(3)]
    public async Task MaxConnectionsPerServer_RequestsInFlightOnBothWorkers_BackendNeverSeesMore(int limit)
    {
        await using var backend = await UpstreamBackend.StartAsync();
        var config = HttpProxy.Config(backend.Url)
            .Set("ReverseProxy:Clusters:backend:HttpClient:MaxConnectionsPerServer", limit.ToString());
        await using var proxy = await HttpProxy.StartAsync(config);

        var statuses = await Task.WhenAll(
            PinnedHttp.GetAsync(cpu: 0, proxy.Address.Port, "/delay/100", connections: 6, rounds: 3),
            PinnedHttp.GetAsync(cpu: 1, proxy.Address.Port, "/delay/100", connections: 6, rounds: 3)).DefaultTimeout();

        var workers = proxy.Workers;
        output.WriteLine($"limit {limit}: backend saw at most {backend.MaxOpenConnections} connections; pools opened " +
            string.Join(", ", workers.Select(w => $"cpu{w.Cpu}={w.UpstreamConnectionsOpened}")));
        Assert.All(statuses.SelectMany(s => s), s => Assert.Equal(200, s));
        Assert.All(workers, w => Assert.True(w.Accepted > 0, $"the worker on CPU {w.Cpu} served no client"));
        Assert.InRange(backend.MaxOpenConnections, 1, limit);
        Assert.InRange(workers.Sum(w => w.UpstreamOpenConnections), 1, limit);
        Assert.Equal(backend.OpenConnections, workers.Sum(w => w.UpstreamOpenConnections));
        proxy.Logs.AssertNoErrors();
    }
}
