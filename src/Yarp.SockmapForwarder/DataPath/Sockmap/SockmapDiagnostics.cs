namespace Yarp.SockmapForwarder.DataPath.Sockmap;

/// <summary>
/// Observes the bytes user space moves itself on the sockmap path (parked bytes read from the source, written to
/// the destination). Null in production; set only by the park-stress reproducer (benchmarks) and tests, which use
/// self-describing streams to tell which stream ranges user space moved when a byte arrives twice.
/// </summary>
internal static class SockmapDiagnostics
{
    /// <summary>Called on the engine thread: connection index, direction, the bytes, and whether they were read (false) or written (true).</summary>
    public delegate void ParkedBytesObserver(int connection, int direction, ReadOnlySpan<byte> bytes, bool written);

    public static volatile ParkedBytesObserver? Observer;
}
