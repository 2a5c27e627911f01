namespace BpfSteer.Transport;

/// <summary>Where the application's pipe continuations (Kestrel's request processing) run.</summary>
public enum ApplicationScheduling
{
    /// <summary>
    /// On the thread pool, as Kestrel's Sockets transport does: blocking application code cannot stall a worker.
    /// </summary>
    ThreadPool,

    /// <summary>
    /// On the worker thread that owns the connection, so request processing stays on the CPU that received it (the
    /// default). Application code must never block: a blocked handler stalls every connection of that worker.
    /// </summary>
    Inline,
}
