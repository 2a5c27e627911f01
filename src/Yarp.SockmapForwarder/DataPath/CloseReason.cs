namespace Yarp.SockmapForwarder.DataPath;

/// <summary>
/// Why a TCP route's connection ended: decided by the data path, or by the integration before the data path ran.
/// <see cref="DataPathNames"/> gives the name that logs and metrics use.
/// </summary>
internal enum CloseReason
{
    /// <summary>Both directions reached end of stream and were shut down in order.</summary>
    Completed,

    /// <summary>Neither direction moved a byte for the route's IdleTimeout.</summary>
    IdleTimeout,

    /// <summary>The server stopped (or the forwarder was disposed) while the connection was open.</summary>
    Aborted,

    /// <summary>The client reset the connection, or a write to it failed; the backend was reset too.</summary>
    ClientReset,

    /// <summary>The backend reset the connection, or a write to it failed; the client was reset too.</summary>
    BackendReset,

    /// <summary>A retransmission from the client overlapped forwarded bytes and could not be cut: reset, not corrupted.</summary>
    ClientOverlapReset,

    /// <summary>A retransmission from the backend overlapped forwarded bytes and could not be cut: reset, not corrupted.</summary>
    BackendOverlapReset,

    /// <summary>A side was reset while the sockmap pair was being set up.</summary>
    ResetDuringSetup,

    /// <summary>Setting up the sockmap pair failed in a way that left no path to fall back to.</summary>
    SetupFailed,

    /// <summary>A configuration reload removed the route; its endpoint closes every new connection.</summary>
    RouteRemoved,

    /// <summary>The route held its MaxConnections.</summary>
    MaxConnections,

    /// <summary>The TLS ClientHello's server name matched no Sni entry (or the bytes were not a ClientHello).</summary>
    SniMismatch,

    /// <summary>No destination of the cluster accepted the connection.</summary>
    NoDestination,

    /// <summary>Taking over the client socket from the BpfSteer transport failed.</summary>
    HandoffFailed,

    /// <summary>The data path threw: a bug, logged as an error.</summary>
    Error,
}
