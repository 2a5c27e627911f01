using System.Net;
using Microsoft.Extensions.Logging;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>One access-log line (event 207), held by a <see cref="TcpRouteLoop"/> until its next tick writes it.</summary>
internal readonly record struct AccessLogEntry(string RouteId, EndPoint? Client, string DestinationId, string DestinationAddress, string Path,
    long BytesClientToBackend, long BytesBackendToClient, double DurationMs, string CloseReason)
{
    public void Write(ILogger logger) => SockmapForwarderLog.AccessLog(logger, RouteId, Client, DestinationId, DestinationAddress, Path,
        BytesClientToBackend, BytesBackendToClient, DurationMs, CloseReason);
}
