using System.IO.Pipelines;
using System.Net.Sockets;

namespace Yarp.SockmapForwarder.DataPath;

/// <summary>One client connection, already paired with a connected backend socket.</summary>
internal sealed class ForwardingRequest
{
    /// <summary>The route id (logs, metrics) and its index in the BPF per-route counters (0..255).</summary>
    public required string RouteId { get; init; }

    public required int RouteIndex { get; init; }

    /// <summary>
    /// The client socket when it was handed off by the BpfSteer transport (non-blocking, owned by the forwarder from now).
    /// Null when the connection came from another transport: then <see cref="ClientPipe"/> is set.
    /// </summary>
    public Socket? ClientSocket { get; init; }

    /// <summary>Client bytes already read (by the transport, or for SNI) that the backend must receive first, in order.</summary>
    public ReadOnlyMemory<byte> ClientBufferedData { get; init; }

    /// <summary>The client side as Kestrel pipes, when no socket hand-off was possible (user-space path only).</summary>
    public IDuplexPipe? ClientPipe { get; init; }

    /// <summary>The connected backend socket; owned by the forwarder from now.</summary>
    public required Socket Backend { get; init; }

    /// <summary>Bytes written to the backend before any client byte (a PROXY protocol header), or empty.</summary>
    public ReadOnlyMemory<byte> BackendPreamble { get; init; }

    public required DataPathOptions Options { get; init; }
}

/// <summary>The route settings the data path needs.</summary>
/// <param name="Mode">Auto, Sockmap or UserSpace; Auto is resolved by the data path (and the reason recorded).</param>
/// <param name="Cpu">The route's CPU, or null.</param>
/// <param name="IdleTimeout">Close both sides when neither direction moved a byte for this long; zero or infinite = never.</param>
/// <param name="MaxQueuedBytes">Per connection and direction, the bound on bytes accepted from one side but not yet written to the other.</param>
internal sealed record DataPathOptions(TcpForwarderMode Mode, int? Cpu, TimeSpan IdleTimeout, long MaxQueuedBytes);

/// <summary>How a forwarded connection ended.</summary>
/// <param name="Path">"Sockmap" or "UserSpace".</param>
/// <param name="BytesClientToBackend">Bytes the backend received from the client.</param>
/// <param name="BytesBackendToClient">Bytes the client received from the backend.</param>
/// <param name="CloseReason">e.g. "completed", "client-reset", "backend-reset", "idle-timeout", "aborted".</param>
internal sealed record ForwardingResult(string Path, long BytesClientToBackend, long BytesBackendToClient, string CloseReason);
