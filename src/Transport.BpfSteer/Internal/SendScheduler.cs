using System.IO.Pipelines;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// The reader scheduler of every connection's output pipe: the send loop continues on the thread that flushed, except
/// on the worker itself, which queues it behind the current epoll round (several responses written in one round go
/// out in one send). A flush from the thread pool — ApplicationScheduling.ThreadPool, HTTP/2 streams, a connection's
/// first request — thus sends at once, as Kestrel's Sockets transport does from its I/O queue, instead of waking the
/// worker through its eventfd and waiting for the worker to be scheduled on its CPU. After EAGAIN the send resumes
/// on the worker when epoll reports the socket writable.
/// </summary>
internal sealed class SendScheduler(Worker worker) : PipeScheduler
{
    public override void Schedule(Action<object?> action, object? state)
    {
        if (worker.IsCurrentThread || worker.IsFaulted)
        {
            worker.Schedule(action, state);
        }
        else
        {
            action(state);
        }
    }
}
