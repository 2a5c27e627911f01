namespace Yarp.SockmapForwarder.DataPath;

/// <summary>
/// Bytes moved by user space, per route and direction (the user-space path, early data, parked bytes). The
/// sockmap path's in-kernel bytes are in the BPF per-route map; a route's total is the sum of both.
/// </summary>
internal sealed class RouteCounters
{
    private readonly long[] _bytes = new long[RouteIndexes.Count * 2];
    private readonly long[] _connections = new long[RouteIndexes.Count * 2];

    public void AddBytes(int route, long clientToBackend, long backendToClient)
    {
        if ((uint)route >= RouteIndexes.Count)
        {
            return;
        }
        if (clientToBackend != 0)
        {
            Interlocked.Add(ref _bytes[route * 2], clientToBackend);
        }
        if (backendToClient != 0)
        {
            Interlocked.Add(ref _bytes[route * 2 + 1], backendToClient);
        }
    }

    /// <summary>Counts a connection by the path it ended on (0 = sockmap, 1 = user space).</summary>
    public void AddConnection(int route, bool sockmap)
    {
        if ((uint)route < RouteIndexes.Count)
        {
            Interlocked.Increment(ref _connections[route * 2 + (sockmap ? 0 : 1)]);
        }
    }

    public (long ClientToBackend, long BackendToClient) Bytes(int route)
        => (uint)route < RouteIndexes.Count ? (Volatile.Read(ref _bytes[route * 2]), Volatile.Read(ref _bytes[route * 2 + 1])) : (0, 0);

    public (long Sockmap, long UserSpace) Connections(int route)
        => (uint)route < RouteIndexes.Count ? (Volatile.Read(ref _connections[route * 2]), Volatile.Read(ref _connections[route * 2 + 1])) : (0, 0);
}
