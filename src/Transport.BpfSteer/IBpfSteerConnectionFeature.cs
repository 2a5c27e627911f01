namespace BpfSteer.Transport;

/// <summary>
/// Per-connection facts from the BpfSteer transport, on <c>ConnectionContext.Features</c> of every connection it accepts.
/// </summary>
public interface IBpfSteerConnectionFeature
{
    /// <summary>The CPU the accepting worker thread is pinned to.</summary>
    int WorkerCpu { get; }

    /// <summary>SO_INCOMING_CPU of the accepted socket: the CPU whose softirq received the connection.</summary>
    int IncomingCpu { get; }

    /// <summary>SO_COOKIE: the kernel's 64-bit id for the socket (the sockhash key).</summary>
    ulong SocketCookie { get; }
}
