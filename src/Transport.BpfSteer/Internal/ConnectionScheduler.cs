using System.IO.Pipelines;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// The application side of one connection's pipes with ApplicationScheduling.Inline: the worker, until the connection
/// turns out to speak HTTP/2 (<see cref="Http2Sniffer"/>), then the thread pool. Kestrel runs every HTTP/2 stream on
/// the thread pool anyway; what Inline would keep on the worker is each connection's frame loop (HPACK, flow control),
/// which then serialises all of a worker's HTTP/2 connections onto its CPU (docs/design.md, "Transport: scheduling").
/// </summary>
internal sealed class ConnectionScheduler(Worker worker) : PipeScheduler
{
    private volatile bool _threadPool;

    public bool UsesThreadPool => _threadPool;

    /// <summary>Before the first flush of received data: from now on continuations go to the thread pool.</summary>
    public void UseThreadPool() => _threadPool = true;

    public override void Schedule(Action<object?> action, object? state)
    {
        if (_threadPool)
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
        }
        else
        {
            worker.Schedule(action, state);
        }
    }
}
