namespace Yarp.SockmapForwarder.DataPath;

/// <summary>
/// The seam between the YARP integration (route config, destination choice, connect, PROXY header, SNI) and the
/// data path (sockmap or user space). The integration connects to the backend, then hands both sides over here;
/// this forwards until both directions are finished or the connection is aborted, and owns closing both sockets.
/// </summary>
internal interface ITcpConnectionForwarder
{
    /// <summary>Forwards one connection to completion. Never throws for network errors: they end up in the result.</summary>
    Task<ForwardingResult> ForwardAsync(ForwardingRequest request, CancellationToken cancellationToken);
}
