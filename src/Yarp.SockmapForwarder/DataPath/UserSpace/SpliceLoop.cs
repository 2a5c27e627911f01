using System.Collections.Concurrent;
using BpfSteer.Interop;
using Microsoft.Extensions.Logging;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath.UserSpace;

/// <summary>
/// One epoll thread moving bytes socket → pipe → socket with splice(2) for many connections; pinned to a CPU
/// when the route asks for one (the user-space path runs on the route's CPU).
/// </summary>
internal sealed class SpliceLoop : IDisposable
{
    private const int TickMs = 50;

    private readonly Epoll _epoll = new();
    private readonly Thread _thread;
    private readonly ConcurrentQueue<SpliceConnection> _incoming = new();
    private readonly ConcurrentQueue<SpliceConnection> _aborts = new();
    private readonly Dictionary<int, SpliceConnection> _connections = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;
    private int _nextId;

    public SpliceLoop(int? cpu, ILogger logger)
    {
        Cpu = cpu;
        Logger = logger;
        _thread = new Thread(Run) { IsBackground = true, Name = cpu is int c ? $"splice-cpu{c}" : "splice" };
        _thread.Start();
        _started.Task.GetAwaiter().GetResult();
    }

    public int? Cpu { get; }

    public ILogger Logger { get; }

    /// <summary>The CPU the loop thread was pinned to, or null (no affinity requested, or pinning failed).</summary>
    public int? PinnedCpu { get; private set; }

    public void Start(SpliceConnection connection)
    {
        _incoming.Enqueue(connection);
        _epoll.Wake();
    }

    public void Abort(SpliceConnection connection)
    {
        _aborts.Enqueue(connection);
        _epoll.Wake();
    }

    public void Watch(SpliceConnection c, int side, System.Runtime.InteropServices.SafeHandle socket)
        => _epoll.Add(socket, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, ((ulong)(uint)c.Id << 1) | (uint)side);

    public void Unwatch(System.Runtime.InteropServices.SafeHandle socket) => _epoll.Remove(socket);

    private void Run()
    {
        if (Cpu is int cpu)
        {
            var r = CpuAffinity.TrySetCurrentThreadAffinity([cpu]);
            PinnedCpu = r.IsSuccess ? cpu : null;
            if (!r.IsSuccess)
            {
                DataPathLog.PinFailed(Logger, cpu, r.ToString());
            }
        }
        _started.SetResult();
        var events = new EpollEvent[256];
        var nextTick = Environment.TickCount64 + TickMs;
        while (!_stopping)
        {
            var n = _epoll.Wait(events, TickMs);
            while (_incoming.TryDequeue(out var added))
            {
                added.Id = _nextId++ & int.MaxValue;
                _connections[added.Id] = added;
                added.Attach(this);
            }
            for (var i = 0; i < n; i++)
            {
                var token = events[i].Data;
                if (token == Epoll.WakeToken)
                {
                    _epoll.ResetWake();
                    continue;
                }
                if (_connections.TryGetValue((int)(token >> 1), out var c))
                {
                    c.Pump();
                    if (c.IsFinished)
                    {
                        _connections.Remove(c.Id);
                    }
                }
            }
            while (_aborts.TryDequeue(out var aborted))
            {
                aborted.Finish("aborted", reset: true);
                _connections.Remove(aborted.Id);
            }
            var now = Environment.TickCount64;
            if (now >= nextTick)
            {
                nextTick = now + TickMs;
                foreach (var c in _connections.Values.ToArray())
                {
                    c.Tick(now);
                    if (c.IsFinished)
                    {
                        _connections.Remove(c.Id);
                    }
                }
            }
        }
        foreach (var c in _connections.Values)
        {
            c.Finish("aborted", reset: true);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _epoll.Wake();
        _thread.Join(TimeSpan.FromSeconds(5));
        _epoll.Dispose();
    }
}
