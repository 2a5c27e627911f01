using Microsoft.Extensions.Logging;

namespace BpfSteer.Transport.Internal;

/// <summary>Every log message of the transport, source-generated, with stable event ids.</summary>
internal static partial class BpfSteerLog
{
    [LoggerMessage(1, LogLevel.Debug, "Worker {Index} started on CPU {Cpu} (thread {ThreadId}).", EventName = "WorkerStarted")]
    public static partial void WorkerStarted(ILogger logger, int cpu, int index, int threadId);

    [LoggerMessage(2, LogLevel.Critical, "The worker on CPU {Cpu} stopped unexpectedly; its connections are lost.", EventName = "WorkerFailed")]
    public static partial void WorkerFailed(ILogger logger, int cpu, Exception exception);

    [LoggerMessage(3, LogLevel.Error, "Unexpected exception in the worker on CPU {Cpu}.", EventName = "HandlerFailed")]
    public static partial void HandlerFailed(ILogger logger, int cpu, Exception exception);

    [LoggerMessage(10, LogLevel.Debug, @"Connection id ""{ConnectionId}"" communication error.", EventName = "ConnectionError")]
    public static partial void ConnectionError(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(11, LogLevel.Debug, @"Connection id ""{ConnectionId}"" reset.", EventName = "ConnectionReset")]
    public static partial void ConnectionReset(ILogger logger, string connectionId);

    [LoggerMessage(12, LogLevel.Debug, @"Connection id ""{ConnectionId}"" received FIN.", EventName = "ConnectionReadFin")]
    public static partial void ConnectionReadFin(ILogger logger, string connectionId);

    [LoggerMessage(13, LogLevel.Debug, @"Connection id ""{ConnectionId}"" sending FIN because: ""{Reason}""", EventName = "ConnectionWriteFin")]
    public static partial void ConnectionWriteFin(ILogger logger, string connectionId, string reason);

    [LoggerMessage(15, LogLevel.Debug, @"Connection id ""{ConnectionId}"" speaks HTTP/2 (client preface or ALPN h2 offered): its application side runs on the thread pool, its sends on the worker's send queue.", EventName = "ConnectionHttp2OnThreadPool")]
    public static partial void ConnectionHttp2OnThreadPool(ILogger logger, string connectionId);

    [LoggerMessage(14, LogLevel.Debug, @"Connection id ""{ConnectionId}"" handed off (fd {Fd}, {BufferedBytes} buffered bytes).", EventName = "ConnectionHandedOff")]
    public static partial void ConnectionHandedOff(ILogger logger, string connectionId, int fd, int bufferedBytes);

    [LoggerMessage(20, LogLevel.Information, "Bound {EndPoint} with {Workers} reuseport listeners on CPUs [{Cpus}], selector {Selector}.", EventName = "ListenerBound")]
    public static partial void ListenerBound(ILogger logger, string endPoint, int workers, string cpus, ReuseportSelector selector);

    [LoggerMessage(21, LogLevel.Warning, "The reuseport selector for {EndPoint} could not be attached ({Error}); falling back to plain reuseport hashing because AllowSelectorFallback is set.", EventName = "SelectorFallback")]
    public static partial void SelectorFallback(ILogger logger, string endPoint, string error);

    [LoggerMessage(22, LogLevel.Debug, "Detached the cBPF selector of {EndPoint} before closing group members: selection by SO_INCOMING_CPU does not depend on group order.", EventName = "SelectorDetached")]
    public static partial void SelectorDetached(ILogger logger, string endPoint);

    [LoggerMessage(23, LogLevel.Error, "accept4 failed on {EndPoint} (worker CPU {Cpu}): {Error}.", EventName = "AcceptFailed")]
    public static partial void AcceptFailed(ILogger logger, string endPoint, int cpu, string error);

    [LoggerMessage(27, LogLevel.Warning, "accept4 failed on {EndPoint} (worker CPU {Cpu}): {Error}; accepting pauses for {BackoffMs} ms at a time until it succeeds (connections wait in the listen backlog).", EventName = "AcceptPaused")]
    public static partial void AcceptPaused(ILogger logger, string endPoint, int cpu, string error, int backoffMs);

    [LoggerMessage(28, LogLevel.Information, "Accepting again on {EndPoint} (worker CPU {Cpu}) after {Pauses} back-off(s).", EventName = "AcceptResumed")]
    public static partial void AcceptResumed(ILogger logger, string endPoint, int cpu, int pauses);

    [LoggerMessage(29, LogLevel.Warning, "The worker on CPU {Cpu} has not come back to its event loop for {Milliseconds} ms: a callback is blocking it, and every connection of that worker waits. With ApplicationScheduling.Inline (the default) request processing runs on the worker: application code must not block (sync-over-async, locks, long computations); set BpfSteer:Transport:ApplicationScheduling=ThreadPool for code that does.", EventName = "WorkerBlocked")]
    public static partial void WorkerBlocked(ILogger logger, int cpu, long milliseconds);

    [LoggerMessage(30, LogLevel.Information, "The worker on CPU {Cpu} runs its event loop again after being blocked for about {Milliseconds} ms.", EventName = "WorkerUnblocked")]
    public static partial void WorkerUnblocked(ILogger logger, int cpu, long milliseconds);

    [LoggerMessage(24, LogLevel.Information, "Set net.ipv4.tcp_migrate_req to 1 while listening (was {Previous}), so closing a group member does not reset its queued connections.", EventName = "MigrateRequestEnabled")]
    public static partial void MigrateRequestEnabled(ILogger logger, string previous);

    [LoggerMessage(25, LogLevel.Warning, "Could not set net.ipv4.tcp_migrate_req ({Error}): connections queued on a closing listener may be reset.", EventName = "MigrateRequestUnavailable")]
    public static partial void MigrateRequestUnavailable(ILogger logger, string error);

    [LoggerMessage(31, LogLevel.Debug, "Worker CPU selector: {State}.", EventName = "SpillChanged")]
    public static partial void SpillChanged(ILogger logger, string state);
}
