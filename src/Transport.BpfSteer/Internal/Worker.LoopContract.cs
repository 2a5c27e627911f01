using System.Runtime.InteropServices;
using BpfSteer.Internal;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// The worker as the <see cref="IWorkerLoop"/> other components use (the YARP extension's per-worker upstream
/// connections): their sockets join the worker's epoll set edge-triggered, and when the worker stops or fails each of
/// them is told once (<see cref="IWorkerLoopHandler.OnLoopStopped"/>); work they schedule after that runs on the thread pool.
/// </summary>
internal sealed partial class Worker : IWorkerLoop
{
    private const uint SocketEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

    [ThreadStatic]
    private static Worker? t_current;

    private readonly Dictionary<ulong, Registration> _registrations = new();
    private volatile bool _contractStopped;

    /// <summary>The worker whose thread is calling, or null.</summary>
    public static Worker? Current => t_current;

    public bool RunsApplicationInline { get; }

    public WorkerIoCounters UpstreamCounters => Counters.Upstream;

    void IWorkerLoop.Schedule(Action<object?> action, object? state)
    {
        if (_contractStopped)
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
            return;
        }
        Schedule(action, state);
    }

    ulong IWorkerLoop.Register(SafeHandle socket, IWorkerLoopHandler handler)
    {
        ObjectDisposedException.ThrowIf(_contractStopped || IsFaulted, this);
        var registration = new Registration(handler);
        registration.Token = Register(socket, SocketEvents, registration);
        _registrations.Add(registration.Token, registration);
        return registration.Token;
    }

    void IWorkerLoop.Unregister(SafeHandle socket, ulong token)
    {
        if (_registrations.Remove(token))
        {
            Unregister(socket, token);
        }
    }

    /// <summary>
    /// The pool is about to stop this worker (worker thread, before the stop request is queued): from now on scheduled
    /// work goes to the thread pool — none of it can be left behind in a queue nobody drains — and every registered
    /// socket is told.
    /// </summary>
    public void OnStopping() => StopRegistrations(null);

    private void StopRegistrations(Exception? error)
    {
        _contractStopped = true;
        if (_registrations.Count == 0)
        {
            return;
        }
        var registrations = _registrations.Values.ToArray();
        _registrations.Clear();
        foreach (var registration in registrations)
        {
            try
            {
                registration.Handler.OnLoopStopped(error);
            }
            catch (Exception ex)
            {
                OnHandlerFailed(ex);
            }
        }
    }

    /// <summary>What the epoll dispatch calls for a registered socket.</summary>
    private sealed class Registration(IWorkerLoopHandler handler) : IEventLoopHandler
    {
        public IWorkerLoopHandler Handler { get; } = handler;

        public ulong Token { get; set; }

        public void OnEvents(uint events) => Handler.OnEvents(events);
    }
}
