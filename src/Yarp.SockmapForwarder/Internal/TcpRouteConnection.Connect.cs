using System.Net;
using BpfSteer.Interop;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;
using Yarp.SockmapForwarder.DataPath;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>Destination choice and the non-blocking connect: timeout, failover to the next destination, passive health.</summary>
internal sealed partial class TcpRouteConnection
{
    private ClusterState? _cluster;
    private ILoadBalancingPolicy? _policy;
    private HttpContext? _policyContext;
    private IReadOnlyList<DestinationState> _candidates = [];
    private List<DestinationState>? _remaining;
    private DestinationState? _trying;
    private IPAddress[]? _addresses;
    private int _addressIndex;
    private int _port;
    private int _tried;
    private SafeFileDescriptorHandle? _backend;
    private ulong _backendToken;
    private uint _backendEvents;
    private Side? _backendSide;
    private ConnectedDestination? _destination;

    private void BeginConnect()
    {
        _cluster = _owner.Connector.FindCluster(_config);
        if (_cluster is null)
        {
            Close(null, CloseReason.NoDestination, reset: false);
            return;
        }
        _policy = _owner.Connector.PolicyFor(_cluster);
        _candidates = _cluster.DestinationsState.AvailableDestinations;
        TryNextDestination();
    }

    /// <summary>Picks the next destination (the policy over those not tried yet) and starts connecting to it.</summary>
    private void TryNextDestination()
    {
        while (_candidates.Count > 0)
        {
            _policyContext ??= DestinationConnector.IgnoresContext(_policy!) ? DestinationConnector.SharedContext : CreatePolicyContext();
            var destination = _candidates.Count == 1 ? _candidates[0] : _policy!.PickDestination(_policyContext, _cluster!, _candidates);
            if (destination is null)
            {
                break;
            }
            _tried++;
            _trying = destination;
            _addressIndex = 0;
            if (_owner.Connector.TryGetAddresses(destination, out _addresses, out _port, out var resolving))
            {
                string? failure = null;
                if (TryConnectAddresses(ref failure))
                {
                    return; // connecting
                }
                if (_state == State.Done)
                {
                    return;
                }
                _owner.Connector.ReportFailure(Route, _config, _cluster!, destination, failure ?? "the host name has no address");
            }
            else if (resolving is not null)
            {
                WaitForLookup(resolving);
                return;
            }
            else
            {
                // Validation refuses this at load; a cluster can still change under a running route.
                _owner.Connector.ReportFailure(Route, _config, _cluster!, destination, "the address is not tcp://host:port");
            }
            if (_state == State.Done)
            {
                return;
            }
            DropCandidate(destination);
        }
        _owner.Connector.ReportNoDestination(_config, _remote, _tried);
        Close(null, CloseReason.NoDestination, reset: false);
    }

    private HttpContext CreatePolicyContext() => DestinationConnector.CreateContext($"tcp-{Route.RouteId}-{_started:x}", _remote, Local);

    private void DropCandidate(DestinationState destination)
    {
        _remaining ??= [.. _candidates];
        _remaining.Remove(destination);
        _candidates = _remaining;
    }

    /// <summary>A host name's addresses are being looked up (off the loop); the connection continues on the loop after.</summary>
    private void WaitForLookup(Task resolving)
    {
        _state = State.Resolving;
        resolving.ContinueWith(static (_, s) =>
        {
            var self = (TcpRouteConnection)s!;
            self._loop.Schedule(static c => ((TcpRouteConnection)c!).LookupDone(), self);
        }, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void LookupDone()
    {
        if (_state != State.Resolving)
        {
            return; // closed meanwhile (client reset, server stop)
        }
        var destination = _trying!;
        string? failure = null;
        if (_owner.Connector.TryGetAddresses(destination, out _addresses, out _port, out _) && TryConnectAddresses(ref failure))
        {
            return;
        }
        if (_state == State.Done)
        {
            return;
        }
        _owner.Connector.ReportFailure(Route, _config, _cluster!, destination, failure ?? "the host name did not resolve");
        DropCandidate(destination);
        TryNextDestination();
    }

    /// <summary>
    /// Connects to the current destination's next address (a host name can have several). True while an attempt is under
    /// way; false when no address is left (the caller reports <paramref name="failure"/>, the last error seen).
    /// </summary>
    private bool TryConnectAddresses(ref string? failure)
    {
        while (_addresses is not null && _addressIndex < _addresses.Length)
        {
            var endPoint = new IPEndPoint(_addresses[_addressIndex++], _port);
            var created = NativeConnect.TryCreateStream(endPoint.AddressFamily, out var socket);
            if (!created.IsSuccess)
            {
                failure = created.ToString();
                continue;
            }
            NativeSocket.TrySetInt(socket!, IPPROTO_TCP, TCP_NODELAY, 1);
            var r = NativeConnect.TryConnect(socket!, endPoint);
            if (!r.IsSuccess && r.Errno != Errno.EINPROGRESS)
            {
                socket!.Dispose();
                failure = r.ToString();
                continue;
            }
            _backend = socket;
            _backendEvents = 0;
            _backendSide ??= new Side(this, 1);
            try
            {
                _backendToken = _loop.Register(socket!, Events, _backendSide);
            }
            catch (Exception ex)
            {
                CloseBackend();
                failure = ex.Message;
                continue;
            }
            _state = State.Connecting;
            _deadline = Environment.TickCount64 + (long)_config.ConnectTimeout.TotalMilliseconds;
            return true; // the result comes as EPOLLOUT (connected) or EPOLLERR/HUP (refused, unreachable)
        }
        return false;
    }

    private void OnConnectEvents(uint events)
    {
        if ((events & (EPOLLERR | EPOLLHUP)) != 0)
        {
            var error = NativeSocket.TryGetInt(_backend!, SOL_SOCKET, SO_ERROR);
            var errno = error.IsSuccess ? error.IntValue : error.Errno;
            ConnectFailed(errno != 0 ? PosixResult.FromErrno(errno).ToString() : "the connection was closed");
            return;
        }
        if ((events & EPOLLOUT) != 0)
        {
            _deadline = 0;
            _destination = new ConnectedDestination(_cluster!, _trying!);
            StartForwarding();
        }
    }

    /// <summary>The current attempt failed or timed out: the next address of the destination, else the next destination.</summary>
    private void ConnectFailed(string reason)
    {
        CloseBackend();
        string? failure = reason;
        if (TryConnectAddresses(ref failure))
        {
            return;
        }
        _owner.Connector.ReportFailure(Route, _config, _cluster!, _trying!, failure ?? reason);
        DropCandidate(_trying!);
        TryNextDestination();
    }

    private void CloseBackend()
    {
        if (_backend is { } backend)
        {
            backend.Dispose(); // closing removes it from epoll; Unregister then only frees the token
            _loop.Unregister(backend, _backendToken);
            _backend = null;
            _backendToken = 0;
        }
    }
}
