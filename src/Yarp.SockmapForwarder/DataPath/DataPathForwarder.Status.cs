using BpfSteer;
using Yarp.SockmapForwarder.DataPath.Sockmap;
using Yarp.SockmapForwarder.DataPath.Steering;

namespace Yarp.SockmapForwarder.DataPath;

internal sealed partial class DataPathForwarder
{
    /// <summary>A route's counters: BPF per-route map (in-kernel bytes, verdict runs per CPU) plus user-space bytes.</summary>
    public DataPathRouteStats GetRouteStats(int routeIndex)
    {
        var (userC2B, userB2C) = _counters.Bytes(routeIndex);
        var (sockmapConnections, userConnections) = _counters.Connections(routeIndex);
        var kernel = _sockmap.IsValueCreated && _sockmap.Value.Engine is { } engine && (uint)routeIndex < RouteIndexes.Count
            ? engine.ReadRoute(routeIndex)
            : new RouteTotals(0, 0, [], [], 0, 0);
        var (v0, v1) = (kernel.VerdictsClientToBackend, kernel.VerdictsBackendToClient);
        var both = new long[Math.Max(v0.Length, v1.Length)];
        for (var i = 0; i < both.Length; i++)
        {
            both[i] = (i < v0.Length ? v0[i] : 0) + (i < v1.Length ? v1[i] : 0);
        }
        var last = _lastPath.TryGetValue(routeIndex, out var p) ? p : null;
        var queue = _sockmap.IsValueCreated && _sockmap.Value.Engine is { } e ? e.Queue.Read(routeIndex) : default;
        return new DataPathRouteStats(kernel.BytesClientToBackend + userC2B, kernel.BytesBackendToClient + userB2C, both, v0, v1,
            kernel.Passed, sockmapConnections, userConnections, last?.Path, last?.Reason ?? "no connection yet")
        {
            RedirectFailures = kernel.RedirectFailed,
            KernelQueuedBytes = queue.Queued,
            KernelQueuedPeakBytes = queue.Peak,
            LargestBacklogBytes = queue.LargestBacklog,
            ParkedConnections = queue.Parked,
            HeldBackByBudget = queue.HeldByBudget,
            Parks = _counters.Parks(routeIndex),
            Steering = (_steering.TryGetValue(routeIndex, out var steering) ? steering : SteeringDecision.NoConnectionYet).ToString(),
        };
    }

    /// <summary>The process budget of memory held outside socket accounting; all zero before the sockmap path started.</summary>
    public KernelQueueStatus KernelQueue => _sockmap.IsValueCreated && _sockmap.Value.Engine is { } engine
        ? engine.KernelQueue
        : new KernelQueueStatus(0, 0, _options.KernelQueueBudget, 0);

    /// <summary>RFS flow records made so far by the steering threads (0 when steering is off).</summary>
    public long SteeringRecords => _rfs.Records;

    /// <summary>Runs the Auto placement rule for a route now instead of at its next one-second look (tests, status).</summary>
    public void EvaluatePlacement(int routeIndex)
    {
        if (Engine is { } engine)
        {
            _placement.GetOrAdd(routeIndex, r => new PlacementMonitor(engine, r, _options.PlacementHold)).EvaluateNow(Environment.TickCount64);
        }
    }

    /// <summary>Probe, load, attach, self-test: the sockmap path exists only when all of them pass.</summary>
    private (SockmapEngine? Engine, string Detail) StartSockmap()
    {
        var features = _features ?? KernelFeatures.Current;
        foreach (var required in new[] { features.Sockmap, features.CapBpf, features.CapNetAdmin, features.CapPerfmon })
        {
            if (!required.Available)
            {
                DataPathLog.SockmapUnusable(_logger, required.Detail);
                return (null, $"{required.Name}: {required.Detail}");
            }
        }
        SockmapEngine engine;
        try
        {
            engine = SockmapEngine.Create(_logger, _options.SockmapCapacity, _options.KernelQueueBudget, features.RedirectCpuKfunc.Available);
        }
        catch (Exception ex)
        {
            DataPathLog.SockmapUnusable(_logger, ex.Message);
            return (null, "loading bpf/sockmap_forward.bpf.c failed: " + ex.Message);
        }
        var selfTest = "skipped";
        if (_options.RunSelfTest)
        {
            var failure = SockmapSelfTest.Run(engine);
            if (failure is not null)
            {
                engine.Dispose();
                DataPathLog.SockmapUnusable(_logger, "self-test failed: " + failure);
                return (null, "the start-up self-test of the sockmap semantics failed: " + failure);
            }
            selfTest = "passed";
        }
        DataPathLog.SockmapReady(_logger, engine.ProgramName, engine.Capacity, selfTest);
        var steering = features.RedirectCpuKfunc.Available
            ? "route CPUs requested through bpf_sk_skb_set_redirect_cpu"
            : "no redirect-CPU kfunc: the verdict runs where each direction's packets are received (see VerdictRunsPerCpu)";
        return (engine, $"sockmap ready: {engine.ProgramName}, capacity {engine.Capacity} connections, self-test {selfTest}; retransmission overlaps are cut in the verdict; {steering}");
    }
}
