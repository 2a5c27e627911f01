using Microsoft.Extensions.Logging;

namespace Yarp.SockmapForwarder.DataPath;

/// <summary>Log messages of the data path (event ids 4100-4199).</summary>
internal static partial class DataPathLog
{
    [LoggerMessage(4100, LogLevel.Information, "Route '{RouteId}' uses the {Path} data path: {Reason}.")]
    public static partial void PathChosen(ILogger logger, string routeId, string path, string reason);

    [LoggerMessage(4101, LogLevel.Warning, "The sockmap data path is not usable in this process: {Reason}. TCP routes use the user-space path.")]
    public static partial void SockmapUnusable(ILogger logger, string reason);

    [LoggerMessage(4102, LogLevel.Information, "The sockmap data path is ready: program {Program}, {Capacity} connections, self-test: {SelfTest}.")]
    public static partial void SockmapReady(ILogger logger, string program, int capacity, string selfTest);

    [LoggerMessage(4103, LogLevel.Debug, "Route '{RouteId}': connection fell back to the user-space path: {Reason}.")]
    public static partial void FellBack(ILogger logger, string routeId, string reason);

    [LoggerMessage(4104, LogLevel.Warning, "Could not pin the user-space forwarding thread to CPU {Cpu}: {Error}.")]
    public static partial void PinFailed(ILogger logger, int cpu, string error);

    [LoggerMessage(4105, LogLevel.Warning, "Route '{RouteId}' runs on sockmap without a queue bound (MaxQueuedBytes = 0): a stalled peer can make the kernel hold unbounded memory.")]
    public static partial void Unbounded(ILogger logger, string routeId);

    [LoggerMessage(4106, LogLevel.Debug, "Route '{RouteId}': connection ended on {Path}: {CloseReason}, {ClientToBackend} bytes to the backend, {BackendToClient} bytes to the client.")]
    public static partial void ConnectionEnded(ILogger logger, string routeId, string path, string closeReason, long clientToBackend, long backendToClient);

    [LoggerMessage(4107, LogLevel.Error, "Route '{RouteId}': a retransmitted segment overlapped forwarded bytes and its head could not be cut ({Direction}); the connection is reset rather than corrupted.")]
    public static partial void OverlapNotCut(ILogger logger, string routeId, string direction);

    [LoggerMessage(4108, LogLevel.Error, "Unexpected exception on the {Loop} thread.")]
    public static partial void LoopHandlerFailed(ILogger logger, string loop, Exception exception);

    [LoggerMessage(4109, LogLevel.Critical, "The {Loop} thread stopped unexpectedly; its connections were reset.")]
    public static partial void LoopFailed(ILogger logger, string loop, Exception exception);
}
