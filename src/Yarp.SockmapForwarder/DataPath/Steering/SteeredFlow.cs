using System.Net.Sockets;

namespace Yarp.SockmapForwarder.DataPath.Steering;

/// <summary>One sockmap connection's two proxy sockets, recorded by a <see cref="FlowRecorder"/> until disposed.</summary>
internal sealed class SteeredFlow : IDisposable
{
    // After the pairing record, record again soon, then every refresh interval: cheap insurance against an early
    // overwrite (a read by the engine thread on another CPU records there). The hashes themselves are known at
    // pairing: a connecting socket has its receive hash from the SYN-ACK (tested), an accepted one from the handshake.
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
