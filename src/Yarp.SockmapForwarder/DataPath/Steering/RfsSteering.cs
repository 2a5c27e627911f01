using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Yarp.SockmapForwarder.DataPath.Steering;

/// <summary>
/// Per-route CPU affinity for the sockmap path on kernels without <c>bpf_sk_skb_set_redirect_cpu</c>: Receive
/// Flow Steering. For a route with a CPU, both proxy sockets of each sockmap connection record their flows from
/// a thread pinned to that CPU (<see cref="FlowRecorder"/>), so the kernel processes the client's and the
/// backend's packets there; the verdict runs in that softirq and the psock backlog work is queued on the same
/// CPU. Needs RFS on the interface the traffic arrives on (detected; configured only when
/// <see cref="SockmapSteeringOptions.ConfigureRfs"/> allows, and restored on dispose). The result per connection is
/// a <see cref="SteeringDecision"/>.
/// </summary>
internal sealed class RfsSteering : IDisposable
{
    private static readonly TimeSpan RecheckEvery = TimeSpan.FromSeconds(5);

    private readonly SockmapSteeringOptions _options;
    private readonly ILogger _logger;
    private readonly RfsConfiguration _config;
    private readonly ConcurrentDictionary<int, FlowRecorder> _recorders = new();
    private readonly ConcurrentDictionary<string, (string? Problem, long CheckedAt)> _interfaces = new();
    private readonly ConcurrentDictionary<IPAddress, string?> _interfaceOf = new();
    private readonly object _gate = new();
    private bool _disposed;

    public RfsSteering(SockmapSteeringOptions options, ILogger logger, RfsConfiguration? config = null)
    {
        _options = options;
        _logger = logger;
        _config = config ?? new RfsConfiguration();
    }

    /// <summary>Flow records made by all recorder threads (each is one getsockopt on the route CPU).</summary>
    public long Records => _recorders.Values.Sum(r => r.Records);

    /// <summary>
    /// Decides whether a connection is steered and, when it is, pins the calling thread to the route CPU and records
    /// both flows (see <see cref="SteeringPairing"/>); pair the connection, then call <see cref="SteeringPairing.Track"/>
    /// (or dispose the pairing when it fell back).
    /// </summary>
    public SteeringPairing? BeginPairing(Socket client, Socket backend, int? cpu, out SteeringDecision decision)
    {
        if (!_options.Enabled)
        {
            decision = SteeringDecision.NotSteered("disabled (BpfSteer:Forwarder:Steering:Enabled = false)");
            return null;
        }
        if (cpu is not int routeCpu)
        {
            decision = SteeringDecision.NotSteered("the route has no CPU");
            return null;
        }
        foreach (var socket in new[] { client, backend })
        {
            var iface = InterfaceOf(socket);
            if (iface is null)
            {
                decision = SteeringDecision.NotSteered($"no interface holds the local address {socket.LocalEndPoint}");
                return null;
            }
            if (InterfaceProblem(iface) is { } problem)
            {
                decision = SteeringDecision.NotSteered(problem);
                return null;
            }
        }
        FlowRecorder recorder;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            recorder = _recorders.GetOrAdd(routeCpu, c => new FlowRecorder(c, _options.RefreshInterval));
        }
        if (recorder.PinError is { } pinError)
        {
            decision = SteeringDecision.NotSteered(pinError);
            return null;
        }
        var pairing = SteeringPairing.Begin(recorder, routeCpu, client, backend, out var error);
        decision = pairing is null ? SteeringDecision.NotSteered(error!) : SteeringDecision.Steered;
        return pairing;
    }

    private string? InterfaceProblem(string iface)
    {
        var now = Environment.TickCount64;
        if (_interfaces.TryGetValue(iface, out var known) && now - known.CheckedAt < RecheckEvery.TotalMilliseconds)
        {
            return known.Problem;
        }
        lock (_gate)
        {
            var problem = _config.Problem(iface);
            if (problem is not null && _options.ConfigureRfs)
            {
                var before = problem;
                problem = _config.TryConfigure(iface, _options.SockFlowEntries, _options.FlowCountPerQueue);
                if (problem is null)
                {
                    SteeringLog.Configured(_logger, iface, $"was: {before}; now rps_sock_flow_entries ≥ {_options.SockFlowEntries}, rps_flow_cnt ≥ {_options.FlowCountPerQueue}");
                }
            }
            if (problem is not null && (known.Problem != problem))
            {
                SteeringLog.Unavailable(_logger, iface, problem);
            }
            _interfaces[iface] = (problem, now);
            return problem;
        }
    }

    /// <summary>The interface whose address is the socket's local address: the one its peer's packets arrive on.</summary>
    private string? InterfaceOf(Socket socket)
    {
        if (socket.LocalEndPoint is not IPEndPoint local)
        {
            return null;
        }
        var address = local.Address.IsIPv4MappedToIPv6 ? local.Address.MapToIPv4() : local.Address;
        return _interfaceOf.GetOrAdd(address, static a =>
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                if (IPAddress.IsLoopback(a) ? nic.NetworkInterfaceType == NetworkInterfaceType.Loopback
                    : nic.GetIPProperties().UnicastAddresses.Any(u => u.Address.Equals(a)))
                {
                    return nic.Name;
                }
            }
            return null;
        });
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        foreach (var recorder in _recorders.Values)
        {
            recorder.Dispose();
        }
        _config.Restore();
    }
}
