using System.Collections.Concurrent;
using System.IO.Pipelines;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// Where the sends of a worker's HTTP/2 connections run: one thread-pool work item at a time drains every send loop
/// queued meanwhile, as Kestrel's Sockets transport does with its I/O queues. HTTP/2 responses are flushed by Kestrel's
/// frame writer on the thread pool, many small flushes per connection; handing each to the worker (eventfd, wake-up)
/// sent them one by one (h2c: about twice the sendto calls per request of the Sockets transport, plus an eventfd write and
/// read), while a queued work item finds several flushes' frames in the pipe and sends them in one call.
/// </summary>
internal sealed class SendQueue : PipeScheduler, IThreadPoolWorkItem
{
    private readonly ConcurrentQueue<(Action<object?> Action, object? State)> _work = new();
    private int _scheduled;

    public override void Schedule(Action<object?> action, object? state)
    {
        _work.Enqueue((action, state));
        if (Interlocked.Exchange(ref _scheduled, 1) == 0)
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        while (true)
        {
            while (_work.TryDequeue(out var item))
            {
                item.Action(item.State);
            }
            Volatile.Write(ref _scheduled, 0);
            // Work queued between the last dequeue and the reset would otherwise wait for the next Schedule.
            if (_work.IsEmpty || Interlocked.Exchange(ref _scheduled, 1) != 0)
            {
                return;
            }
        }
    }
}
