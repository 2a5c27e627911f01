using BpfSteer.Transport;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// Locality, measured: clients pinned to each CPU; with the cBPF selector the accepting worker's CPU equals the
/// connection's SO_INCOMING_CPU; without it, the baseline is reported.
/// </summary>
[Collection(nameof(CpuBoundCollection))]
public class LocalityTests(ITestOutputHelper output)
{
    private const int PerCpu = 150;

    [Theory]
    [InlineData(ReuseportSelector.Cbpf, new[] { 0, 1 })]
    [InlineData(ReuseportSelector.Cbpf, new[] { 1, 0 })] // group order differs from CPU numbers: the jump-table program
    [InlineData(ReuseportSelector.Ebpf, new[] { 0, 1 })]
    [InlineData(ReuseportSelector.Ebpf, new[] { 1, 0 })]
    public async Task Selector_ClientsPinnedPerCpu_AtLeast99PercentOnMatchingWorker(ReuseportSelector selector, int[] cpus)
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o =>
        {
            o.Cpus = cpus;
            o.Selector = selector;
            o.SpillOver = false; // the selector's own mapping; spill-over moves connections on purpose (SpillOverTests)
        });
        var landings = await RunClientsAsync(app, cpus);
        var matched = landings.Count(l => l.WorkerCpu == l.IncomingCpu && l.WorkerCpu == l.ClientCpu);
        output.WriteLine($"{selector}, CPUs [{string.Join(",", cpus)}]: {matched}/{landings.Count} on the worker of the receiving CPU");
        Assert.True(matched >= landings.Count * 0.99, $"{matched}/{landings.Count}");

        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        Assert.Equal(selector, status.Selector);
        Assert.Equal(cpus, status.Workers.Select(w => w.Cpu));
        Assert.Equal(landings.Count, status.Workers.Sum(w => w.Accepted));
        Assert.True(status.Workers.Sum(w => w.IncomingCpuMatched) >= landings.Count * 0.99);
        app.Errors.AssertNoErrors();
    }

    [Fact]
    public async Task NoSelector_ClientsPinnedPerCpu_BaselineIsMeasured()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o =>
        {
            o.Cpus = [0, 1];
            o.Selector = ReuseportSelector.None;
        });
        var landings = await RunClientsAsync(app, [0, 1]);
        var matched = landings.Count(l => l.WorkerCpu == l.IncomingCpu);
        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        output.WriteLine($"No selector (plain reuseport hashing): {matched}/{landings.Count} = {100.0 * matched / landings.Count:F1}% on the worker of the receiving CPU");
        Assert.Equal(ReuseportSelector.None, status.Selector);
        Assert.Equal(landings.Count, status.Workers.Sum(w => w.Accepted));
        Assert.Equal(matched, status.Workers.Sum(w => w.IncomingCpuMatched));
        // Both workers took part: hashing spreads connections regardless of CPU.
        Assert.All(status.Workers, w => Assert.True(w.Accepted > 0, $"worker on CPU {w.Cpu} accepted nothing"));
        app.Errors.AssertNoErrors();
    }

    [Fact]
    public async Task SparseCpuSet_OnlyCpu1_OneWorkerPinnedThereServesAll()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.Cpus = [1]);
        var landings = await RunClientsAsync(app, [0, 1], perCpu: 50);
        Assert.All(landings, l => Assert.Equal(1, l.WorkerCpu));
        var fromCpu1 = landings.Where(l => l.ClientCpu == 1).ToList();
        Assert.True(fromCpu1.Count(l => l.IncomingCpu == 1) >= fromCpu1.Count * 0.99);
        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        var worker = Assert.Single(status.Workers);
        Assert.Equal(1, worker.Cpu);
        Assert.Equal(landings.Count, worker.Accepted);
        Assert.Equal(landings.Count(l => l.IncomingCpu == 1), worker.IncomingCpuMatched);
        Assert.Equal("bpfsteer-cpu1", WorkerThreads.Names().Single());
        Assert.Equal([1], WorkerThreads.Affinity("bpfsteer-cpu1"));
    }

    private static async Task<List<PinnedClients.Landing>> RunClientsAsync(TestApp app, int[] cpus, int perCpu = PerCpu)
    {
        var all = new List<PinnedClients.Landing>();
        foreach (var cpu in cpus.Order())
        {
            all.AddRange(await PinnedClients.GetConnFromCpuAsync(cpu, app.Port, perCpu).WithTimeout(TimeSpan.FromSeconds(60)));
        }
        return all;
    }
}
