using System.Diagnostics;
using Yarp.ReverseProxy.Model;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// The destination a connection is connected to. While it lives it counts as one of the destination's concurrent
/// requests, so LeastRequests and PowerOfTwoChoices balance TCP routes by active connections.
/// </summary>
internal sealed class ConnectedDestination : IDisposable
{
    private int _released;

    public ConnectedDestination(ClusterState cluster, DestinationState destination)
    {
        Cluster = cluster;
        Destination = destination;
        Adjust(destination, +1);
    }

    public ClusterState Cluster { get; }

    public DestinationState Destination { get; }

    /// <summary>Ends the connection's share of the destination's concurrency count.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            Adjust(Destination, -1);
        }
    }

    // DestinationState exposes the count only as a get/set property (YARP's own atomic counter is internal); the lock
    // makes TCP routes' updates exact. HTTP requests to the same destination use YARP's interlocked counter, which the
    // lock does not cover: a cluster shared by HTTP and TCP routes can drift by a racing update.
    private static void Adjust(DestinationState destination, int delta)
    {
        lock (destination)
        {
            destination.ConcurrentRequestCount += delta;
        }
        Debug.Assert(destination.ConcurrentRequestCount >= 0);
    }
}
