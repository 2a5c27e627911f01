namespace BpfSteer;

/// <summary>A socket registered with an <see cref="IWorkerLoop"/>; called on the worker thread only.</summary>
public interface IWorkerLoopHandler
{
    /// <summary>The epoll events reported for the socket (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR bits).</summary>
    void OnEvents(uint events);

    /// <summary>
    /// The loop stopped (transport shut down) or failed: no further events will come, so pending operations must be
    /// failed here. Called once, on the dying worker thread or, after it ended, on the thread pool.
    /// </summary>
    void OnLoopStopped(Exception? error);
}
