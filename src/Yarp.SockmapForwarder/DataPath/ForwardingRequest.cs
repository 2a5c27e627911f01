using System.IO.Pipelines;
using System.Net.Sockets;

namespace Yarp.SockmapForwarder.DataPath;

/// <summary>One client connection, already paired with a connected backend socket.</summary>
internal sealed class ForwardingRequest
{
    /// <summary>The route's settings; the data path reads <c>Mode</c>, <c>IdleTimeout</c> and <c>MaxQueuedBytes</c>.</summary>
    public required TcpRouteConfig Route { get; init; }

    /// <summary>The route id, for logs and metrics.</summary>
    public string RouteId => Route.RouteId;

    /// <summary>The route's index in the per-route counters, BPF and user space (see <see cref="RouteIndexes"/>).</summary>
    public required int RouteIndex { get; init; }

    /// <summary>
    /// The CPU this connection's forwarding work should run on: the route's <c>Cpu</c>, else the CPU of the BpfSteer
    /// worker that accepted it, else null.
    /// </summary>
    public int? Cpu { get; init; }

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
}

/// <summary>How a forwarded connection ended.</summary>
/// <param name="Path">The path the connection ended on.</param>
/// <param name="BytesClientToBackend">Bytes the backend received from the client.</param>
/// <param name="BytesBackendToClient">Bytes the client received from the backend.</param>
/// <param name="CloseReason">Why it ended.</param>
internal sealed record ForwardingResult(DataPathKind Path, long BytesClientToBackend, long BytesBackendToClient, CloseReason CloseReason);
