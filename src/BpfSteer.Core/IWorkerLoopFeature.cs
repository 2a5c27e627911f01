namespace BpfSteer;

/// <summary>
/// The worker that serves a connection: on <c>ConnectionContext.Features</c> of every connection the BpfSteer transport
/// accepts, and through Kestrel on <c>HttpContext.Features</c> of every request it carries.
/// </summary>
public interface IWorkerLoopFeature
{
    /// <summary>The serving worker.</summary>
    IWorkerLoop Loop { get; }
}
