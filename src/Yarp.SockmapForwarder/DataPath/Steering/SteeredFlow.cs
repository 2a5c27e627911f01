using System.Net.Sockets;

namespace Yarp.SockmapForwarder.DataPath.Steering;

/// <summary>One sockmap connection's two proxy sockets, recorded by a <see cref="FlowRecorder"/> until disposed.</summary>
internal sealed class SteeredFlow : IDisposable
{
    // After the pairing record: the backend socket's receive hash exists only once it has received a packet
    // (the hash of a socket that received nothing is 0), so record again soon, then every refresh interval.
    private static readonly long[] FirstDelaysMs = [10, 50, 250];

    private volatile bool _done;
    private int _step;

    public SteeredFlow(Socket client, Socket backend) => Sockets = [client, backend];

    public Socket[] Sockets { get; }

    public bool Done => _done;

    /// <summary>When the recorder thread records this flow next (Environment.TickCount64); recorder thread only.</summary>
    public long Due { get; set; }

    /// <summary>The delay after the record just made; recorder thread only.</summary>
    public long NextDelay(long refreshMs) => _step < FirstDelaysMs.Length ? Math.Min(FirstDelaysMs[_step++], refreshMs) : refreshMs;

    /// <summary>Stops recording (the connection finished); the sockets may already be closed.</summary>
    public void Dispose() => _done = true;

    internal void MarkDone() => _done = true;
}
