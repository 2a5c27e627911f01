using System.Runtime.InteropServices;
using BpfSteer.Interop;
using BpfSteer.Internal;
using Microsoft.Extensions.Logging;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath.UserSpace;

/// <summary>
/// One <see cref="EventLoop"/> moving bytes socket → pipe → socket with splice(2) for many connections; pinned to a
/// CPU when the route asks for one (the user-space path runs on the route's CPU). Its tick checks idle timeouts.
/// </summary>
internal sealed class SpliceLoop : EventLoop, IDisposable
{
    private const int TickMs = 50;
    private const uint Events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    private const string LoopName = "splice";

    private readonly List<SpliceConnection> _connections = new();
    private readonly ILogger _logger;

    /// <summary>
    /// Starts the loop thread (pinned to <paramref name="cpu"/> when it can be) without waiting for it: the first
    /// connection is created on a route loop's thread, and work queued or registered meanwhile runs once the thread does.
    /// </summary>
    public SpliceLoop(int? cpu, ILogger logger)
        : base(cpu is int c ? $"splice-cpu{c}" : "splice", cpu)
    {
        _logger = logger;
        TickInterval = TickMs;
        _ = StartAsync(); // pinning failures are logged, not thrown: it cannot fail
    }

    public void Start(SpliceConnection connection)
        => Schedule(static s =>
        {
            var (loop, c) = ((SpliceLoop, SpliceConnection))s!;
            loop.Attach(c);
        }, (this, connection));

    public void Abort(SpliceConnection connection)
        => Schedule(static c => ((SpliceConnection)c!).Finish(CloseReason.Aborted, reset: true), connection);

    /// <summary>Polls <paramref name="socket"/> for <paramref name="connection"/> (edge-triggered); loop thread only.</summary>
    public ulong Watch(SafeHandle socket, SpliceConnection connection) => Register(socket, Events, connection);

    public void Unwatch(SafeHandle socket, ulong token) => Unregister(socket, token);

    /// <summary>Running unpinned is slower, not wrong: the route keeps working and the log says why.</summary>
    protected override Exception? OnPinningFailed(int cpu, PosixResult result)
    {
        DataPathLog.PinFailed(_logger, cpu, result.ToString());
        return null;
    }

    protected override void OnTick(long now)
    {
        foreach (var c in _connections)
        {
            c.Tick(now);
        }
        _connections.RemoveAll(static c => c.IsFinished);
    }

    protected override void OnStopped() => AbortAll();

    protected override void OnFaulted(Exception error)
    {
        DataPathLog.LoopFailed(_logger, LoopName, error);
        AbortAll();
    }

    protected override void OnHandlerFailed(Exception error) => DataPathLog.LoopHandlerFailed(_logger, LoopName, error);

    public void Dispose() => Stop(TimeSpan.FromSeconds(5));

    private void Attach(SpliceConnection connection)
    {
        if (!IsCurrentThread)
        {
            // The loop died before it took the connection (this runs on the thread pool): nothing would forward it.
            connection.Finish(CloseReason.Aborted, reset: true);
            return;
        }
        _connections.Add(connection);
        connection.Attach(this);
    }

    private void AbortAll()
    {
        foreach (var c in _connections)
        {
            c.Finish(CloseReason.Aborted, reset: true);
        }
    }
}
