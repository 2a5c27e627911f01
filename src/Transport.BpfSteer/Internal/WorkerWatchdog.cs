using Microsoft.Extensions.Logging;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// Notices a worker that does not come back to its event loop: with ApplicationScheduling.Inline (the default)
/// request processing runs on the worker, so application code that blocks (sync-over-async, a lock, a long
/// computation) stalls every connection of that worker. Each worker ticks every <see cref="Worker.TickPeriodMs"/>
/// while its loop runs, busy or idle; a tick older than <see cref="Threshold"/> means the loop is stuck in one
/// callback. One warning per episode (event 29) and one message when it ends (event 30); counted per worker.
/// </summary>
internal sealed class WorkerWatchdog : IDisposable
{
    public static readonly TimeSpan Threshold = TimeSpan.FromSeconds(1);

    private readonly IReadOnlyList<Worker> _workers;
    private readonly ILogger _logger;
    private readonly Timer _timer;
    private readonly long[] _blockedSince;

    public WorkerWatchdog(IReadOnlyList<Worker> workers, ILogger logger)
    {
        _workers = workers;
        _logger = logger;
        _blockedSince = new long[workers.Count];
        _timer = new Timer(static s => ((WorkerWatchdog)s!).Check(), this, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500));
    }

    public void Dispose() => _timer.Dispose();

    private void Check()
    {
        var now = Environment.TickCount64;
        for (var i = 0; i < _workers.Count; i++)
        {
            var worker = _workers[i];
            var age = now - worker.LastTick;
            if (worker.IsFaulted)
            {
                continue;
            }
            if (age >= Threshold.TotalMilliseconds && _blockedSince[i] == 0)
            {
                _blockedSince[i] = now - age;
                worker.Counters.OnBlocked();
                BpfSteerLog.WorkerBlocked(_logger, worker.Cpu, age);
            }
            else if (age < Threshold.TotalMilliseconds && _blockedSince[i] != 0)
            {
                BpfSteerLog.WorkerUnblocked(_logger, worker.Cpu, worker.LastTick - _blockedSince[i]);
                _blockedSince[i] = 0;
            }
        }
    }
}
