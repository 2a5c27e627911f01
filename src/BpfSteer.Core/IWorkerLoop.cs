using System.Runtime.InteropServices;

namespace BpfSteer;

/// <summary>
/// One BpfSteer worker as other components see it: a thread pinned to one CPU running an edge-triggered epoll loop.
/// The transport serves each accepted connection on one worker; a component that wants its own sockets served on the
/// same CPU (the YARP extension's per-worker upstream connections) registers them here and does its socket calls in
/// <see cref="IWorkerLoopHandler.OnEvents"/> or in work passed to <see cref="Schedule"/>.
/// </summary>
public interface IWorkerLoop
{
    /// <summary>The worker's position among the transport's workers (0-based, the reuseport group order).</summary>
    int Index { get; }

    /// <summary>The CPU the worker thread is pinned to.</summary>
    int Cpu { get; }

    /// <summary>True when called on this worker's thread.</summary>
    bool IsCurrentThread { get; }

    /// <summary>
    /// True when the transport runs application continuations inline on the worker (ApplicationScheduling.Inline):
    /// completions raised on the worker may then continue application code there; otherwise they belong on the thread pool.
    /// </summary>
    bool RunsApplicationInline { get; }

    /// <summary>Locality counters of the sockets other components run on this worker, read by the transport's status and metrics.</summary>
    WorkerIoCounters UpstreamCounters { get; }

    /// <summary>
    /// Queues <paramref name="action"/> to run on the worker thread, FIFO, between epoll waits; safe from any thread.
    /// Once the loop has stopped, queued work runs on the thread pool instead, so clean-up still happens.
    /// </summary>
    void Schedule(Action<object?> action, object? state);

    /// <summary>
    /// Adds <paramref name="socket"/> to the worker's epoll set, edge-triggered for reading, writing and hang-up
    /// (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET). Worker thread only. Returns the token for <see cref="Unregister"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The loop has stopped.</exception>
    ulong Register(SafeHandle socket, IWorkerLoopHandler handler);

    /// <summary>Removes a registration. Worker thread only; a socket already closed is not an error.</summary>
    void Unregister(SafeHandle socket, ulong token);
}
