using BpfSteer;
using BpfSteer.Transport;
using Yarp.SockmapForwarder;

namespace ProxyHost.Status;

/// <summary>
/// Takes a <see cref="StatusSnapshot"/> from the live services. Both status services are optional so the page still
/// works (and says so) when a host runs without the BpfSteer transport or without the forwarder.
/// </summary>
internal sealed class StatusSnapshotSource
{
    private readonly IBpfSteerTransportStatus? _transport;
    private readonly ISockmapForwarderStatus? _forwarder;
    private readonly TimeProvider _time;

    public StatusSnapshotSource(IServiceProvider services, TimeProvider? time = null)
    {
        _transport = services.GetService<IBpfSteerTransportStatus>();
        _forwarder = services.GetService<ISockmapForwarderStatus>();
        _time = time ?? TimeProvider.System;
    }

    public bool HasTransport => _transport is not null;

    public bool HasForwarder => _forwarder is not null;

    public StatusSnapshot Take()
    {
        StatusSnapshot.TransportDto? transport = null;
        if (_transport is { } t)
        {
            transport = new StatusSnapshot.TransportDto(
                t.Selector.ToString(), t.SelectorDetail, t.Endpoints.ToList(),
                t.Workers.Select(w => new StatusSnapshot.WorkerDto(w.Cpu, w.Accepted, w.IncomingCpuMatched, w.ActiveConnections, w.AcceptResourceFailures, w.AcceptPauses, w.SpillShare, w.SpillTargetCpu,
                    w.IdleSpinHits, w.IdleSleeps)).ToList());
        }

        var routes = new List<StatusSnapshot.RouteDto>();
        StatusSnapshot.ForwarderDto? forwarder = null;
        if (_forwarder is { } f)
        {
            var q = f.KernelQueue;
            forwarder = new StatusSnapshot.ForwarderDto(f.SockmapUsable, f.SockmapDetail,
                new StatusSnapshot.KernelQueueDto(q.UsedBytes, q.PeakBytes, q.BudgetBytes, q.BudgetParks),
                f.Loops.Select(l => new StatusSnapshot.RouteLoopDto(l.Cpu, l.Connections, l.IdleSpinHits, l.IdleSleeps, l.MovedOut)).ToList());
            foreach (var r in f.Routes)
            {
                var (mode, reason) = RouteMode.Resolve(r, f);
                routes.Add(new StatusSnapshot.RouteDto(
                    r.Id, r.Listen, mode, reason, r.Cpu, r.ActiveConnections, r.TotalConnections,
                    r.BytesClientToBackend, r.BytesBackendToClient, r.VerdictRunsPerCpu.ToList(),
                    new StatusSnapshot.RouteQueueDto(r.KernelQueuedBytes, r.KernelQueuedPeakBytes, r.LargestBacklogBytes, r.ParkedConnections,
                        r.HeldBackByBudget, new StatusSnapshot.TcpRouteParksDto(r.Parks.HighMark, r.Parks.Budget, r.Parks.PeerFull, r.Parks.Resumed))));
            }
        }

        return new StatusSnapshot(_time.GetUtcNow(), transport, routes, KernelFeatures.Current.All, forwarder);
    }
}
