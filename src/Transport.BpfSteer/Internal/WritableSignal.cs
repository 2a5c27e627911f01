using System.Runtime.CompilerServices;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// "The socket may be writable", for a send loop that may run off the worker (an HTTP/2 connection's sends run on the
/// worker's <see cref="SendQueue"/>) while epoll reports writability on the worker: the same contract as
/// <see cref="ReadinessSignal"/>, made safe across the two threads with one interlocked state word.
/// </summary>
/// <remarks>
/// A waiter must call <see cref="Reset"/> and then retry its send before awaiting: an edge that arrived between its
/// EAGAIN and the reset would otherwise be forgotten, and edge-triggered epoll reports it only once.
/// </remarks>
internal sealed class WritableSignal : ICriticalNotifyCompletion
{
    private static readonly Action s_set = static () => { };

    // null: not writable, nobody waits; s_set: writable; any other action: the waiting continuation.
    private Action? _state = s_set;

    public bool IsSet => ReferenceEquals(Volatile.Read(ref _state), s_set);

    public WritableSignal GetAwaiter() => this;

    public bool IsCompleted => IsSet;

    public void GetResult()
    {
    }

    /// <summary>Marks writable and resumes the waiter, if any, on the calling thread (the worker).</summary>
    public void Set()
    {
        var previous = Interlocked.Exchange(ref _state, s_set);
        if (previous is not null && !ReferenceEquals(previous, s_set))
        {
            previous();
        }
    }

    /// <summary>The socket said EAGAIN: wait for the next edge (unless one is waited for already).</summary>
    public void Reset() => Interlocked.CompareExchange(ref _state, null, s_set);

    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation)
    {
        var previous = Interlocked.CompareExchange(ref _state, continuation, null);
        if (ReferenceEquals(previous, s_set))
        {
            continuation();
        }
        else if (previous is not null)
        {
            throw new InvalidOperationException("Only one send may wait for writability at a time.");
        }
    }
}
