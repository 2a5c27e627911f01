using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using BpfSteer;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Where a TCP route's connection is handled: the terminal connection middleware of the route's Kestrel endpoint.
/// Admission (MaxConnections), SNI filter, destination choice and connect, PROXY header, then the hand-off to the data
/// path: the raw socket when the BpfSteer transport offers it (<see cref="ISocketHandoffFeature"/>), else Kestrel's pipes.
/// </summary>
internal sealed class TcpRouteConnectionHandler
{
    private readonly DestinationConnector _connector;
    private readonly ITcpConnectionForwarder _forwarder;
    private readonly SockmapForwarderMetrics _metrics;
    private readonly ILogger _logger;
    private readonly ILogger _accessLog;

    public TcpRouteConnectionHandler(DestinationConnector connector, ITcpConnectionForwarder forwarder, SockmapForwarderMetrics metrics, ILoggerFactory loggerFactory)
    {
        _connector = connector;
        _forwarder = forwarder;
        _metrics = metrics;
        _logger = loggerFactory.CreateLogger<TcpRouteConnectionHandler>();
        _accessLog = loggerFactory.CreateLogger(SockmapForwarderLog.AccessLogCategory);
    }

    public async Task OnConnectedAsync(ConnectionContext connection, TcpRouteState route)
    {
        var started = Stopwatch.GetTimestamp();
        var config = route.Config; // one snapshot per connection: a reload applies to the next connections
        var client = connection.RemoteEndPoint;
        if (route.Removed)
        {
            route.CountRemoved();
            Finish(route, client, started, "-", "-", null, 0, 0, CloseReason.RouteRemoved);
            return;
        }
        if (!route.TryEnter(config.MaxConnections))
        {
            SockmapForwarderLog.MaxConnectionsReached(_logger, route.RouteId, config.MaxConnections!.Value, client);
            Finish(route, client, started, "-", "-", null, 0, 0, CloseReason.MaxConnections);
            return;
        }
        try
        {
            await ForwardAsync(connection, route, config, started);
        }
        finally
        {
            route.Exit();
        }
    }

    private async Task ForwardAsync(ConnectionContext connection, TcpRouteState route, TcpRouteConfig config, long started)
    {
        var client = connection.RemoteEndPoint;
        // Kestrel signals this when the server stops: TCP routes close their connections then (no drain).
        var stopping = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;

        if (config.Sni.Count > 0)
        {
            var serverName = await SniPeek.ReadServerNameAsync(connection.Transport.Input, stopping);
            if (serverName is null || !SniMatcher.Matches(config.Sni, serverName))
            {
                route.CountSniRejected();
                SockmapForwarderLog.SniRejected(_logger, route.RouteId, client, serverName ?? "(not a TLS ClientHello)");
                Finish(route, client, started, "-", "-", null, 0, 0, CloseReason.SniMismatch);
                return;
            }
        }

        using var backend = await _connector.ConnectAsync(route, config, connection, stopping);
        if (backend is null)
        {
            route.CountNoDestination();
            Finish(route, client, started, "-", "-", null, 0, 0, CloseReason.NoDestination);
            return;
        }
        var destinationId = backend.Destination.DestinationId;
        var destinationAddress = backend.Destination.Model.Config.Address;

        Socket? clientSocket = null;
        ReadOnlyMemory<byte> buffered = default;
        int? workerCpu = null;
        IDuplexPipe? clientPipe = null;
        if (connection.Features.Get<ISocketHandoffFeature>() is { } handoffFeature)
        {
            try
            {
                var handoff = await handoffFeature.DetachAsync(stopping);
                clientSocket = handoff.Socket;
                buffered = handoff.BufferedData;
                workerCpu = handoff.WorkerCpu;
            }
            catch (Exception ex)
            {
                backend.Socket.Dispose();
                SockmapForwarderLog.HandoffFailed(_logger, route.RouteId, client, ex);
                Finish(route, client, started, destinationId, destinationAddress, null, 0, 0, CloseReason.HandoffFailed);
                return;
            }
        }
        else
        {
            clientPipe = connection.Transport;
        }

        var request = new ForwardingRequest
        {
            Route = config,
            RouteIndex = route.Index,
            ClientSocket = clientSocket,
            ClientBufferedData = buffered,
            ClientPipe = clientPipe,
            Backend = backend.Socket,
            BackendPreamble = ProxyProtocolHeader.Build(config.ProxyProtocol, connection.RemoteEndPoint, connection.LocalEndPoint),
            // Without a route CPU, a handed-off connection stays on the CPU whose worker accepted it (BpfSteer's point).
            Cpu = config.Cpu ?? workerCpu,
        };
        ForwardingResult result;
        try
        {
            result = await _forwarder.ForwardAsync(request, stopping);
        }
        catch (Exception ex)
        {
            // The forwarder owns both sockets and reports network errors in its result: an exception here is a bug.
            SockmapForwarderLog.ForwardingFailed(_logger, route.RouteId, client, ex);
            result = new ForwardingResult(DataPathKind.UserSpace, 0, 0, CloseReason.Error);
        }

        // The data path logs its choice and reason once per route and reason; the status shows the latest.
        route.CountForwarded(result.Path, fallback: config.Mode != TcpForwarderMode.UserSpace && result.Path != DataPathKind.Sockmap);
        Finish(route, client, started, destinationId, destinationAddress, result.Path, result.BytesClientToBackend, result.BytesBackendToClient, result.CloseReason);
    }

    private void Finish(TcpRouteState route, System.Net.EndPoint? client, long started, string destinationId, string? destinationAddress, DataPathKind? path,
        long clientToBackend, long backendToClient, CloseReason reason)
    {
        var elapsed = Stopwatch.GetElapsedTime(started);
        var reasonName = reason.Name();
        _metrics.RecordConnectionClosed(route.RouteId, reasonName, elapsed);
        SockmapForwarderLog.AccessLog(_accessLog, route.RouteId, client, destinationId, destinationAddress ?? "-", path?.Name() ?? "-", clientToBackend, backendToClient,
            elapsed.TotalMilliseconds, reasonName);
    }
}
