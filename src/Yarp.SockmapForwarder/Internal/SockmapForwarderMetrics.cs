using System.Diagnostics.Metrics;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// The meter <c>Yarp.SockmapForwarder</c>. Per-route values are observable instruments over the route counters (no cost
/// per connection beyond the interlocked increments); the connection duration is a histogram recorded at close, and
/// the moves of relayed connections between route loops a counter added to when they happen.
/// </summary>
internal sealed class SockmapForwarderMetrics
{
    public const string MeterName = "Yarp.SockmapForwarder";

    private readonly Histogram<double> _duration;
    private readonly Counter<long> _moved;

    public SockmapForwarderMetrics(IMeterFactory meterFactory, TcpRouteTable routes, IDataPathInfo dataPath)
    {
        var meter = meterFactory.Create(MeterName);
        IEnumerable<Measurement<long>> PerRoute(Func<TcpRouteState, long> value) =>
            routes.Routes.Select(r => new Measurement<long>(value(r), new KeyValuePair<string, object?>("route", r.RouteId)));
        IEnumerable<Measurement<long>> PerRouteTagged(string tag, params (string Value, Func<TcpRouteState, long> Read)[] values) =>
            routes.Routes.SelectMany(r => values.Select(v => new Measurement<long>(v.Read(r),
                new KeyValuePair<string, object?>("route", r.RouteId), new KeyValuePair<string, object?>(tag, v.Value))));

        meter.CreateObservableUpDownCounter("yarp.sockmap.tcp.connections.active", () => PerRoute(r => r.Active),
            "{connection}", "Connections a TCP route holds open now.");
        meter.CreateObservableCounter("yarp.sockmap.tcp.connections", () => PerRoute(r => r.Total),
            "{connection}", "Connections accepted by a TCP route (including rejected ones).");
        meter.CreateObservableCounter("yarp.sockmap.tcp.bytes", () => routes.Routes.SelectMany(r =>
            {
                var stats = dataPath.GetRouteStats(r.Index);
                return new[]
                {
                    new Measurement<long>(stats.BytesClientToBackend, Route(r), new("direction", "client_to_backend")),
                    new Measurement<long>(stats.BytesBackendToClient, Route(r), new("direction", "backend_to_client")),
                };
            }),
            "By", "Bytes forwarded by a TCP route, per direction: the BPF counters (live) plus the user-space path's.");
        meter.CreateObservableCounter("yarp.sockmap.tcp.parked_bytes", () => PerRoute(r => dataPath.GetRouteStats(r.Index).ParkedBytes),
            "By", "Bytes the verdict parked on the source socket when a connection's queue bound was reached (then forwarded by user space).");
        meter.CreateObservableCounter("yarp.sockmap.redirect_failures", () => PerRoute(r => dataPath.GetRouteStats(r.Index).RedirectFailures),
            "{segment}", "Segments the sockmap verdict could not redirect because the peer socket had left the map (dropped; expected near zero).");
        meter.CreateObservableCounter("yarp.sockmap.tcp.connect_failures", () => PerRoute(r => r.ConnectFailures),
            "{attempt}", "Connect attempts to a destination that failed or timed out.");
        meter.CreateObservableCounter("yarp.sockmap.tcp.rejected", () => PerRouteTagged("reason",
                (CloseReason.NoDestination.Name(), r => r.RejectedNoDestination), (CloseReason.MaxConnections.Name(), r => r.RejectedMaxConnections),
                (CloseReason.SniMismatch.Name(), r => r.RejectedSni), (CloseReason.RouteRemoved.Name(), r => r.RejectedRemoved)),
            "{connection}", "Connections closed without being forwarded, by reason (no-destination = every destination down).");
        meter.CreateObservableCounter("yarp.sockmap.tcp.forwarded", () => PerRouteTagged("path",
                (DataPathKind.Sockmap.Name(), r => r.SockmapConnections), (DataPathKind.UserSpace.Name(), r => r.UserSpaceConnections)),
            "{connection}", "Connections forwarded to completion, by data path.");
        meter.CreateObservableCounter("yarp.sockmap.tcp.fallbacks", () => PerRoute(r => r.Fallbacks),
            "{connection}", "Connections of a route not set to UserSpace that were forwarded in user space.");
        meter.CreateObservableCounter("yarp.sockmap.verdict_runs", () => routes.Routes.SelectMany(r =>
            {
                var stats = dataPath.GetRouteStats(r.Index);
                return PerCpu(r, "client_to_backend", stats.VerdictRunsPerCpuClientToBackend)
                    .Concat(PerCpu(r, "backend_to_client", stats.VerdictRunsPerCpuBackendToClient));
            }),
            "{run}", "Runs of the sockmap verdict program for a route, per CPU and direction: compare with the route's requested Cpu.");
        meter.CreateObservableUpDownCounter("yarp.sockmap.kernel_queue.bytes", () => PerRoute(r => dataPath.GetRouteStats(r.Index).KernelQueuedBytes),
            "By", "Bytes a route's sockmap connections hold outside socket accounting now (redirected, not yet in the peer's send queue).");
        meter.CreateObservableGauge("yarp.sockmap.kernel_queue.peak_bytes", () => PerRoute(r => dataPath.GetRouteStats(r.Index).KernelQueuedPeakBytes),
            "By", "The most bytes a route's sockmap connections held outside socket accounting at once.");
        meter.CreateObservableUpDownCounter("yarp.sockmap.parked_connections", () => routes.Routes.SelectMany(r =>
            {
                var stats = dataPath.GetRouteStats(r.Index);
                return new[]
                {
                    new Measurement<long>(stats.ParkedConnections - stats.HeldBackByBudget, Route(r), new("cause", "connection")),
                    new Measurement<long>(stats.HeldBackByBudget, Route(r), new("cause", "budget")),
                };
            }),
            "{connection}", "Sockmap connections parked now, by cause (budget = held back because the process budget is used up).");
        meter.CreateObservableCounter("yarp.sockmap.parks", () => routes.Routes.SelectMany(r =>
            {
                var parks = dataPath.GetRouteStats(r.Index).Parks;
                return new[]
                {
                    new Measurement<long>(parks.HighMark, Route(r), new("reason", "high_mark")),
                    new Measurement<long>(parks.Budget, Route(r), new("reason", "budget")),
                    new Measurement<long>(parks.PeerFull, Route(r), new("reason", "peer_full")),
                };
            }),
            "{park}", "Parks of a route's finished sockmap connections, by reason.");
        meter.CreateObservableUpDownCounter("yarp.sockmap.kernel_queue.budget.used_bytes", () => dataPath.KernelQueue.UsedBytes,
            "By", "Bytes all sockmap connections hold outside socket accounting now.");
        meter.CreateObservableGauge("yarp.sockmap.kernel_queue.budget.peak_bytes", () => dataPath.KernelQueue.PeakBytes,
            "By", "The most bytes all sockmap connections held outside socket accounting at once.");
        meter.CreateObservableUpDownCounter("yarp.sockmap.kernel_queue.budget.limit_bytes", () => dataPath.KernelQueue.BudgetBytes,
            "By", "The process budget (BpfSteer:Forwarder:KernelQueueBudget).");
        meter.CreateObservableCounter("yarp.sockmap.kernel_queue.budget.parks", () => dataPath.KernelQueue.BudgetParks,
            "{park}", "Times a direction parked because the process budget was used up.");
        _duration = meter.CreateHistogram<double>("yarp.sockmap.tcp.connection.duration", "s", "How long TCP route connections lasted.");
        _moved = meter.CreateCounter<long>("yarp.sockmap.tcp.connections.moved", "{connection}",
            "Relayed connections a TCP route loop moved to another CPU's loop because its CPU was saturated while the other waited.");
    }

    private static KeyValuePair<string, object?> Route(TcpRouteState route) => new("route", route.RouteId);

    private static IEnumerable<Measurement<long>> PerCpu(TcpRouteState route, string direction, IReadOnlyList<long> runs) =>
        runs.Select((count, cpu) => new Measurement<long>(count, Route(route), new("cpu", cpu), new("direction", direction)));

    public void RecordConnectionsMoved(int count, int sourceCpu, int targetCpu) =>
        _moved.Add(count, new KeyValuePair<string, object?>("cpu", sourceCpu), new KeyValuePair<string, object?>("target_cpu", targetCpu));

    public void RecordConnectionClosed(string routeId, string reason, TimeSpan duration) =>
        _duration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("route", routeId), new KeyValuePair<string, object?>("reason", reason));
}
