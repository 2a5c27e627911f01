using System.Net.Sockets;
using BpfSteer.Interop;

namespace Yarp.SockmapForwarder.DataPath.Steering;

/// <summary>
/// The pairing of one steered connection runs on the route CPU: the calling thread is pinned there, both
/// sockets record their flows, and the sockmap insertion and its trigger recv (which runs the verdict over the
/// bytes queued before insertion, and so schedules the first psock backlog work) happen on that CPU. Measured
/// why: recording only after pairing moved the verdicts to the route CPU but not the backlog work, because a
/// psock work item that is running when it is queued again stays on its CPU (workqueue non-reentrancy), and
/// under a continuous stream it is always running. Dispose restores the thread's previous affinity.
/// </summary>
internal sealed class SteeringPairing : IDisposable
{
    private readonly int[] _previous;
    private readonly FlowRecorder _recorder;
    private readonly Socket _client;
    private readonly Socket _backend;
    private bool _restored;

    private SteeringPairing(int[] previous, FlowRecorder recorder, Socket client, Socket backend)
    {
        _previous = previous;
        _recorder = recorder;
        _client = client;
        _backend = backend;
    }

    /// <summary>Pins the calling thread to <paramref name="cpu"/> and records both flows; null (and why) when the pin fails.</summary>
    public static SteeringPairing? Begin(FlowRecorder recorder, int cpu, Socket client, Socket backend, out string? error)
    {
        var previous = CpuAffinity.GetCurrentThreadAffinity();
        var pin = CpuAffinity.TrySetCurrentThreadAffinity([cpu]);
        if (!pin.IsSuccess)
        {
            error = $"could not pin the pairing thread to CPU {cpu}: {pin}";
            return null;
        }
        error = null;
        RfsFlow.TryRecord(client.SafeHandle);
        RfsFlow.TryRecord(backend.SafeHandle);
        return new SteeringPairing(previous, recorder, client, backend);
    }

    /// <summary>After a successful pairing: the recorder thread keeps the flows recorded until the flow is disposed.</summary>
    public SteeredFlow Track()
    {
        Restore();
        var flow = new SteeredFlow(_client, _backend);
        _recorder.Add(flow);
        return flow;
    }

    private void Restore()
    {
        if (!_restored)
        {
            _restored = true;
            CpuAffinity.TrySetCurrentThreadAffinity(_previous);
        }
    }

    public void Dispose() => Restore();
}
