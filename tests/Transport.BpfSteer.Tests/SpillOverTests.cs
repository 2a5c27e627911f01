using System.Diagnostics;
using System.Diagnostics.Metrics;
using BpfSteer.Transport;
using BpfSteer.Transport.Internal;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// Spill-over (<see cref="BpfSteerTransportOptions.SpillOver"/>): a thread spinning on CPU 0 leaves that CPU no idle
/// time while CPU 1 waits for work; clients connect from CPU 0, so the selector alone would give every connection to
/// CPU 0's worker. With spill-over a share of them is accepted by CPU 1's worker, and the share is given back once CPU 0
/// has room again; without it every connection stays on CPU 0.
/// </summary>
[Collection(nameof(CpuBoundCollection))]
public class SpillOverTests(ITestOutputHelper output)
{
    private const int Connections = 100;

    [Fact]
    public async Task SpillOver_ReceivingCpuSaturated_ShareOfNewConnectionsAcceptedByIdleWorkerThenGivenBack()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.Cpus = [0, 1]);
        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        Assert.Contains("spill-over", status.SelectorDetail);

        List<PinnedClients.Landing> landings;
        using (var spinner = Spinner.Start(cpu: 0))
        {
            // The share grows by at least 5 points every 200 ms while CPU 0 stays saturated and CPU 1 has room.
            var cpu0 = await WaitForAsync(status, w => w.SpillShare >= 0.25, TimeSpan.FromSeconds(30));
            output.WriteLine($"CPU 0 spills {cpu0.SpillShare:P0} to CPU {cpu0.SpillTargetCpu}");
            Assert.Equal(1, cpu0.SpillTargetCpu);
            var gauge = SpillShareGauge(app);
            Assert.InRange(gauge[0], 0.05, 0.9);
            Assert.Equal(0, gauge[1]); // a CPU that receives a spill does not spill back
            landings = await PinnedClients.GetConnFromCpuAsync(0, app.Port, Connections).WithTimeout(TimeSpan.FromSeconds(60));
        }
        var spilled = landings.Count(l => l.WorkerCpu == 1);
        output.WriteLine($"Saturated: {spilled}/{landings.Count} connections received on CPU 0 were accepted by CPU 1's worker");
        Assert.All(landings, l => Assert.Equal(0, l.IncomingCpu));
        Assert.InRange(spilled, 1, Connections);

        // CPU 0 has room again: the share comes back in steps, then every connection keeps its CPU.
        var after = await WaitForAsync(status, w => w.SpillShare == 0, TimeSpan.FromSeconds(30));
        Assert.Null(after.SpillTargetCpu);
        var calm = await PinnedClients.GetConnFromCpuAsync(0, app.Port, Connections / 2).WithTimeout(TimeSpan.FromSeconds(60));
        Assert.All(calm, l => Assert.Equal(0, l.WorkerCpu));
        Assert.Equal(Connections + Connections / 2, status.Workers.Sum(w => w.Accepted));
        app.Errors.AssertNoErrors();
    }

    [Fact]
    public async Task SpillOverOff_ReceivingCpuSaturated_EveryConnectionStaysOnTheReceivingCpu()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o =>
        {
            o.Cpus = [0, 1];
            o.SpillOver = false;
        });
        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        Assert.DoesNotContain("spill-over", status.SelectorDetail);
        List<PinnedClients.Landing> landings;
        using (Spinner.Start(cpu: 0))
        {
            await Task.Delay(TimeSpan.FromSeconds(3)); // fifteen balancing periods, had there been a balancer
            landings = await PinnedClients.GetConnFromCpuAsync(0, app.Port, Connections).WithTimeout(TimeSpan.FromSeconds(60));
        }
        Assert.All(landings, l => Assert.Equal(0, l.WorkerCpu));
        Assert.All(status.Workers, w => Assert.Equal(0, w.SpillShare));
        app.Errors.AssertNoErrors();
    }

    /// <summary>The meter's <c>bpfsteer.transport.spill_share</c> per worker CPU, read now.</summary>
    private static Dictionary<int, double> SpillShareGauge(TestApp app)
    {
        var meterFactory = app.Services.GetRequiredService<IMeterFactory>();
        var shares = new Dictionary<int, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == TransportMetrics.MeterName && instrument.Meter.Scope == meterFactory && instrument.Name == "bpfsteer.transport.spill_share")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "cpu")
                {
                    shares[(int)tag.Value!] = value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return shares;
    }

    private static async Task<BpfSteerWorkerStatus> WaitForAsync(IBpfSteerTransportStatus status, Func<BpfSteerWorkerStatus, bool> cpu0, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var worker = status.Workers.Single(w => w.Cpu == 0);
            if (cpu0(worker))
            {
                return worker;
            }
            Assert.True(watch.Elapsed < timeout, $"CPU 0's worker still spills {worker.SpillShare:P0} to CPU {worker.SpillTargetCpu} after {timeout}");
            await Task.Delay(50);
        }
    }
}
