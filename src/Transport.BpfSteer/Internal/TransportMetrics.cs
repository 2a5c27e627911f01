using System.Diagnostics.Metrics;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// The meter "BpfSteer.Transport": per worker (tag <c>cpu</c>) connections accepted, how many had SO_INCOMING_CPU
/// equal to the worker's CPU, and connections open; the share of the new connections received on its CPU that spill to
/// another worker. Observable instruments read the same counters as the status.
/// </summary>
internal sealed class TransportMetrics : IDisposable
{
    public const string MeterName = "BpfSteer.Transport";

    private readonly Meter _meter;

    public TransportMetrics(IMeterFactory? meterFactory, Func<IEnumerable<WorkerCounters>> counters, Func<int, double> spillShare)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _meter.CreateObservableCounter("bpfsteer.transport.accepted",
            () => counters().Select(c => Measure(c.Accepted, c.Cpu)), "{connection}", "Connections accepted by the worker.");
        _meter.CreateObservableCounter("bpfsteer.transport.incoming_cpu_matched",
            () => counters().Select(c => Measure(c.IncomingCpuMatched, c.Cpu)), "{connection}",
            "Accepted connections whose SO_INCOMING_CPU equalled the worker's CPU.");
        _meter.CreateObservableCounter("bpfsteer.transport.accept_resource_failures",
            () => counters().Select(c => Measure(c.AcceptResourceFailures, c.Cpu)), "{call}",
            "accept4 calls that failed for lack of descriptors or memory (retried every 100 ms while it lasts).");
        _meter.CreateObservableCounter("bpfsteer.transport.upstream.operations",
            () => counters().Select(c => Measure(c.Upstream.Operations, c.Cpu)), "{call}",
            "Upstream socket reads and writes done for requests of the worker's connections.");
        _meter.CreateObservableCounter("bpfsteer.transport.upstream.operations_on_worker_cpu",
            () => counters().Select(c => Measure(c.Upstream.OnWorkerCpu, c.Cpu)), "{call}",
            "Upstream socket reads and writes for the worker's connections that ran on the worker's CPU.");
        _meter.CreateObservableUpDownCounter("bpfsteer.transport.upstream.open_connections",
            () => counters().Select(c => Measure(c.Upstream.OpenConnections, c.Cpu)), "{connection}",
            "Upstream connections in the worker's per-worker pools.");
        _meter.CreateObservableUpDownCounter("bpfsteer.transport.active_connections",
            () => counters().Select(c => Measure(c.ActiveConnections, c.Cpu)), "{connection}", "Connections open on the worker.");
        _meter.CreateObservableGauge("bpfsteer.transport.spill_share",
            () => counters().Select(c => new Measurement<double>(spillShare(c.Cpu), new KeyValuePair<string, object?>("cpu", c.Cpu))), "1",
            "Share of the new connections received on the worker's CPU that the selector sends to another worker (SpillOver).");
    }

    public void Dispose() => _meter.Dispose();

    private static Measurement<long> Measure(long value, int cpu) => new(value, new KeyValuePair<string, object?>("cpu", cpu));
}
