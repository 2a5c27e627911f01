using System.IO.Pipelines;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// The application side of one connection's pipes with ApplicationScheduling.Inline: the worker, until the connection
/// turns out to speak HTTP/2 (<see cref="Http2Sniffer"/>), then the thread pool. Kestrel runs every HTTP/2 stream on
/// the thread pool anyway; what Inline would keep on the worker is each connection's frame loop (HPACK, flow control),
/// which then serialises all of a worker's HTTP/2 connections onto its CPU (docs/design.md, "Transport: scheduling").
/// With either scheduling an HTTP/2 connection's sends go to the worker's <see cref="SendQueue"/> (<see cref="Sends"/>).
/// </summary>
internal sealed class ConnectionScheduler(Worker worker, bool inline) : PipeScheduler
{
    private volatile bool _threadPool = !inline;
    private volatile bool _http2;

    public bool UsesThreadPool => _threadPool;

    public bool IsHttp2 => _http2;

    /// <summary>The reader scheduler of the output pipe: the worker, or its send queue once the connection is HTTP/2.</summary>
    public PipeScheduler Sends { get; } = new SendSide(worker);

    /// <summary>
    /// Before the first flush of received data (nothing was written yet): the connection speaks HTTP/2, its application
    /// continuations go to the thread pool and its sends to the worker's send queue.
    /// </summary>
    public void OnHttp2()
    {
        _http2 = true;
        _threadPool = true;
        ((SendSide)Sends).UseQueue();
    }

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

    private sealed class SendSide(Worker worker) : PipeScheduler
    {
        private volatile bool _queue;

        public void UseQueue() => _queue = true;

        public override void Schedule(Action<object?> action, object? state)
        {
            if (_queue)
            {
                worker.SendQueue.Schedule(action, state);
            }
            else
            {
                worker.Schedule(action, state);
            }
        }
    }
}
