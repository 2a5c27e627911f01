using System.Runtime.CompilerServices;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// "The socket may be readable/writable": set by the worker's epoll dispatch (edge-triggered), awaited by the
/// connection's receive or send loop. Single-threaded by design — both sides run on the worker thread — so it needs
/// no locks, and the continuation runs inline on the worker when the event arrives.
/// </summary>
internal sealed class ReadinessSignal : ICriticalNotifyCompletion
{
    private Action? _continuation;
    private bool _set;

    /// <summary>True until <see cref="Reset"/>: the last syscall did not report EAGAIN.</summary>
    public bool IsSet => _set;

    public ReadinessSignal GetAwaiter() => this;

    public bool IsCompleted => _set;

    public void GetResult()
    {
    }

    /// <summary>Marks ready and resumes the waiter, if any, inline.</summary>
    public void Set()
    {
        _set = true;
        var continuation = _continuation;
        if (continuation is not null)
        {
            _continuation = null;
            continuation();
        }
    }

    /// <summary>The socket said EAGAIN: wait for the next edge.</summary>
    public void Reset() => _set = false;

    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation)
    {
        if (_set)
        {
            continuation();
            return;
        }
        _continuation = continuation;
    }
}
