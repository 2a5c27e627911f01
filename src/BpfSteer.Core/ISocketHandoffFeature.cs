namespace BpfSteer;

/// <summary>
/// Detaches the connection's socket from its BpfSteer worker so another owner (the sockmap forwarder) can take it over.
/// The BpfSteer transport offers it in each connection's features; it lives here, in the assembly both reference, so the
/// forwarder does not depend on the transport (as Kestrel's connection features live in Connections.Abstractions).
/// After <see cref="DetachAsync"/> completes the worker no longer reads, writes or polls the socket, and the connection's
/// pipes are completed; every byte the worker had already read from the socket but the application had not consumed is
/// returned in <see cref="SocketHandoff.BufferedData"/>, so nothing is read twice and nothing is lost.
/// </summary>
public interface ISocketHandoffFeature
{
    /// <summary>Detaches the socket. Throws <see cref="InvalidOperationException"/> if it was already detached or closed.</summary>
    ValueTask<SocketHandoff> DetachAsync(CancellationToken cancellationToken = default);
}
