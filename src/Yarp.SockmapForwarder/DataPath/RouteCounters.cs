namespace Yarp.SockmapForwarder.DataPath;

/// <summary>
/// Bytes moved by user space, per route and direction (the user-space path, early data, parked bytes). The
/// sockmap path's in-kernel bytes are in the BPF per-route map; a route's total is the sum of both.
/// </summary>
internal sealed class RouteCounters
{
    private readonly long[] _bytes = new long[RouteIndexes.Count * 2];
    private readonly long[] _connections = new long[RouteIndexes.Count * 2];
    private readonly long[] _parks = new long[RouteIndexes.Count * 4];

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

    /// <summary>Adds a finished sockmap connection's parks by reason and its resumes.</summary>
    public void AddParks(int route, TcpRouteParks parks)
    {
        if ((uint)route >= RouteIndexes.Count || parks == TcpRouteParks.None)
        {
            return;
        }
        Interlocked.Add(ref _parks[route * 4], parks.HighMark);
        Interlocked.Add(ref _parks[route * 4 + 1], parks.Budget);
        Interlocked.Add(ref _parks[route * 4 + 2], parks.PeerFull);
        Interlocked.Add(ref _parks[route * 4 + 3], parks.Resumed);
    }

    /// <summary>Parks of the route's finished sockmap connections.</summary>
    public TcpRouteParks Parks(int route)
        => (uint)route < RouteIndexes.Count
            ? new TcpRouteParks(Volatile.Read(ref _parks[route * 4]), Volatile.Read(ref _parks[route * 4 + 1]),
                Volatile.Read(ref _parks[route * 4 + 2]), Volatile.Read(ref _parks[route * 4 + 3]))
            : TcpRouteParks.None;

    public (long ClientToBackend, long BackendToClient) Bytes(int route)
        => (uint)route < RouteIndexes.Count ? (Volatile.Read(ref _bytes[route * 2]), Volatile.Read(ref _bytes[route * 2 + 1])) : (0, 0);

    public (long Sockmap, long UserSpace) Connections(int route)
        => (uint)route < RouteIndexes.Count ? (Volatile.Read(ref _connections[route * 2]), Volatile.Read(ref _connections[route * 2 + 1])) : (0, 0);
}
