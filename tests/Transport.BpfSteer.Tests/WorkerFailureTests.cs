using System.Reflection;
using BpfSteer.Interop;
using BpfSteer.Internal;
using BpfSteer.Transport;
using BpfSteer.Transport.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// A worker whose loop dies must not leave the CPU → group-index mapping silently wrong nor a listener nobody accepts
/// from. The fault is real: the worker's epoll descriptor is closed under it, so its next epoll_wait fails.
/// </summary>
[Collection(nameof(CpuBoundCollection))]
public class WorkerFailureTests
{
    [Theory]
    [InlineData(ReuseportSelector.Cbpf, ReuseportSelector.None)]
    [InlineData(ReuseportSelector.Ebpf, ReuseportSelector.Ebpf)] // keyed by worker: stays attached
    public async Task WorkerLoopDies_GroupRebuiltWithoutIt_AllClientsStillServed(ReuseportSelector selector, ReuseportSelector selectorAfter)
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o =>
        {
            o.Cpus = [0, 1];
            o.Selector = selector;
        });
        var state = app.Services.GetRequiredService<BpfSteerTransportState>();
        var worker = state.CurrentPool!.Workers[0];
        Assert.Equal(0, worker.Cpu);

        var epoll = (Epoll)typeof(EventLoop).GetField("_epoll", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(worker)!;
        var handle = (SafeFileDescriptorHandle)typeof(Epoll).GetField("_epoll", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(epoll)!;
        Libc.Close(handle.Detach());
        worker.Schedule(static _ => { }, null); // wake it: the next epoll_wait fails

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!worker.IsFaulted && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        Assert.True(worker.IsFaulted);

        var landings = new List<PinnedClients.Landing>();
        foreach (var cpu in new[] { 0, 1 })
        {
            landings.AddRange(await PinnedClients.GetConnFromCpuAsync(cpu, app.Port, 50).DefaultTimeout());
        }
        Assert.Equal(100, landings.Count);
        Assert.All(landings, l => Assert.Equal(1, l.WorkerCpu));

        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        Assert.Equal(selectorAfter, status.Selector);
        Assert.Contains("CPU 0 failed", status.SelectorDetail);
        Assert.All(status.Workers.Where(w => w.Cpu == 1), w => Assert.True(w.Accepted >= 100));
        Assert.Contains(app.Errors.Entries, e => e.StartsWith("Critical", StringComparison.Ordinal) && e.Contains("[2]"));
    }
}
