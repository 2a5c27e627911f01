using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// A worker as the <see cref="IWorkerLoop"/> contract other components use (the YARP extension's per-worker upstream
/// connections): their sockets join the worker's epoll set edge-triggered, and when the worker stops or fails each of
/// them is told once (<see cref="IWorkerLoopHandler.OnLoopStopped"/>); work scheduled after that runs on the thread pool.
/// </summary>
internal sealed class WorkerLoop : IWorkerLoop
{
    private const uint SocketEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

    private static readonly ConditionalWeakTable<Worker, WorkerLoop> s_loops = new();

    private readonly Worker _worker;
    private readonly Dictionary<ulong, Registration> _registrations = new();
    private volatile bool _stopped;

    private WorkerLoop(Worker worker, bool inline)
    {
        _worker = worker;
        RunsApplicationInline = inline;
        SendScheduler = new SendScheduler(worker);
        worker.Faulted += (_, error) => StopRegistrations(error);
    }

    public int Index => _worker.Index;

    public int Cpu => _worker.Cpu;

    public bool IsCurrentThread => _worker.IsCurrentThread;

    public bool RunsApplicationInline { get; }

    /// <summary>The output pipes' reader scheduler for this worker's connections (one instance per worker).</summary>
    public SendScheduler SendScheduler { get; }

    public WorkerIoCounters UpstreamCounters => _worker.Counters.Upstream;

    /// <summary>Attaches the contract to a new worker (before it serves anything).</summary>
    public static WorkerLoop Attach(Worker worker, bool inline)
    {
        var loop = new WorkerLoop(worker, inline);
        s_loops.AddOrUpdate(worker, loop);
        return loop;
    }

    /// <summary>The contract of a worker made by <see cref="Attach"/>.</summary>
    public static WorkerLoop Of(Worker worker)
        => s_loops.TryGetValue(worker, out var loop) ? loop : throw new InvalidOperationException($"Worker {worker.Index} has no loop contract.");

    public void Schedule(Action<object?> action, object? state)
    {
        if (_stopped)
        {
            ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
            return;
        }
        _worker.Schedule(action, state);
    }

    public ulong Register(SafeHandle socket, IWorkerLoopHandler handler)
    {
        ObjectDisposedException.ThrowIf(_stopped || _worker.IsFaulted, this);
        var registration = new Registration(handler);
        registration.Token = _worker.Register(socket, SocketEvents, registration);
        _registrations.Add(registration.Token, registration);
        return registration.Token;
    }

    public void Unregister(SafeHandle socket, ulong token)
    {
        if (_registrations.Remove(token))
        {
            _worker.Unregister(socket, token);
        }
    }

    /// <summary>
    /// The worker is about to stop (worker thread, before its stop request is queued): later scheduled work goes to the
    /// thread pool, and every registered socket is told, so no operation waits for a loop that is gone.
    /// </summary>
    public void OnStopping() => StopRegistrations(null);

    private void StopRegistrations(Exception? error)
    {
        _stopped = true;
        var registrations = _registrations.Values.ToArray();
        _registrations.Clear();
        foreach (var registration in registrations)
        {
            try
            {
                registration.OnLoopStopped(error);
            }
            catch (Exception)
            {
                // One socket's clean-up must not keep the others from theirs.
            }
        }
    }

    /// <summary>What the worker's epoll dispatch calls for a registered socket.</summary>
    private sealed class Registration(IWorkerLoopHandler handler) : IEpollHandler
    {
        public IWorkerLoopHandler Handler { get; } = handler;

        public ulong Token { get; set; }

        public void OnEvents(uint events) => Handler.OnEvents(events);

        public void OnLoopStopped(Exception? error) => Handler.OnLoopStopped(error);
    }
}
