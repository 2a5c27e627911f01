using System.Collections.Concurrent;
using BpfSteer.Interop;

namespace Yarp.SockmapForwarder.DataPath.Steering;

/// <summary>
/// A thread pinned to one route CPU that records the flows of every steered socket of that CPU in the RFS
/// sock-flow table (<see cref="RfsFlow.TryRecord"/> runs <c>sock_rps_record_flow</c> on the calling CPU):
/// at pairing, shortly after, and then every refresh interval. The record is what moves the work: the kernel
/// looks the table up with the packet's hash, which on loopback is the sender's txhash, equal to the receiving
/// proxy socket's <c>sk_rxhash</c>; the peers' own reads record the reverse flows, so they do not conflict.
/// </summary>
internal sealed class FlowRecorder : IDisposable
{
    private readonly int _cpu;
    private readonly long _refreshMs;
    private readonly ConcurrentQueue<SteeredFlow> _incoming = new();
    private readonly List<SteeredFlow> _flows = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly ManualResetEventSlim _started = new(false);
    private readonly Thread _thread;
    private volatile bool _stopping;
    private long _records;

    public FlowRecorder(int cpu, TimeSpan refresh)
    {
        _cpu = cpu;
        _refreshMs = (long)refresh.TotalMilliseconds;
        _thread = new Thread(Run) { IsBackground = true, Name = $"rfs-cpu{cpu}" };
        _thread.Start();
        _started.Wait();
    }

    /// <summary>Null when the thread runs on its CPU; else why it could not be pinned (then nothing is recorded).</summary>
    public string? PinError { get; private set; }

    /// <summary>Flow records made so far (two per flow and round).</summary>
    public long Records => Interlocked.Read(ref _records);

    public void Add(SteeredFlow flow)
    {
        _incoming.Enqueue(flow);
        _wake.Set();
    }

    private void Run()
    {
        var pin = CpuAffinity.TrySetCurrentThreadAffinity([_cpu]);
        if (!pin.IsSuccess)
        {
            // Recording from another CPU would steer the flows there: better not to record at all.
            PinError = $"could not pin the RFS recorder thread to CPU {_cpu}: {pin}";
        }
        _started.Set();
        if (PinError is not null)
        {
            return;
        }
        while (!_stopping)
        {
            var now = Environment.TickCount64;
            var next = now + _refreshMs;
            while (_incoming.TryDequeue(out var added))
            {
                added.Due = now;
                _flows.Add(added);
            }
            for (var i = _flows.Count - 1; i >= 0; i--)
            {
                var flow = _flows[i];
                if (!flow.Done && now >= flow.Due)
                {
                    Record(flow);
                    flow.Due = now + flow.NextDelay(_refreshMs);
                }
                if (flow.Done)
                {
                    _flows[i] = _flows[^1];
                    _flows.RemoveAt(_flows.Count - 1);
                    continue;
                }
                next = Math.Min(next, flow.Due);
            }
            _wake.WaitOne((int)Math.Clamp(next - now, 1, _refreshMs));
        }
    }

    private void Record(SteeredFlow flow)
    {
        foreach (var socket in flow.Sockets)
        {
            try
            {
                // ENOTCONN/EBADF-like results only mean the connection is ending: nothing to steer any more.
                if (!RfsFlow.TryRecord(socket.SafeHandle).IsSuccess)
                {
                    continue;
                }
                Interlocked.Increment(ref _records);
            }
            catch (ObjectDisposedException)
            {
                flow.MarkDone();
                return;
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _wake.Set();
        _thread.Join(TimeSpan.FromSeconds(2));
    }
}
