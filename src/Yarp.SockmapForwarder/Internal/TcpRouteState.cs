using Microsoft.AspNetCore.Server.Kestrel.Core;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// One TCP route bound at start: its live settings (swapped by a reload), its Kestrel endpoint and its counters.
/// Counters are plain interlocked longs read by the observable metrics and the status snapshot.
/// </summary>
internal sealed class TcpRouteState
{
    private TcpRouteConfig _config;
    private volatile bool _removed;
    private long _active;
    private long _total;
    private long _connectFailures;
    private long _rejectedMaxConnections;
    private long _rejectedNoDestination;
    private long _rejectedSni;
    private long _rejectedRemoved;
    private long _sockmapConnections;
    private long _userSpaceConnections;
    private long _fallbacks;

    public TcpRouteState(TcpRouteConfig config, int index, ListenAddress listen)
    {
        _config = config;
        Index = index;
        Listen = listen;
    }

    public string RouteId => _config.RouteId;

    /// <summary>The route's index in the BPF per-route counters.</summary>
    public int Index { get; }

    /// <summary>The endpoint bound at start. A reload cannot move it (Kestrel binds code-defined endpoints once).</summary>
    public ListenAddress Listen { get; }

    public ListenOptions? ListenOptions { get; set; }

    /// <summary>The bound endpoint as a string: the real port once Kestrel has bound a port-0 endpoint.</summary>
    public string BoundEndPoint =>
        Listen.Kind == ListenAddressKind.Ip && ListenOptions?.IPEndPoint is { } ep ? ep.ToString() : Listen.ToString();

    /// <summary>The current settings; connections read them once, when they are accepted.</summary>
    public TcpRouteConfig Config
    {
        get => Volatile.Read(ref _config);
        set => Volatile.Write(ref _config, value);
    }

    /// <summary>Set when a reload removed the route: its endpoint stays bound until restart but accepts nothing.</summary>
    public bool Removed
    {
        get => _removed;
        set => _removed = value;
    }

    public long Active => Interlocked.Read(ref _active);
    public long Total => Interlocked.Read(ref _total);
    public long ConnectFailures => Interlocked.Read(ref _connectFailures);
    public long RejectedMaxConnections => Interlocked.Read(ref _rejectedMaxConnections);
    public long RejectedNoDestination => Interlocked.Read(ref _rejectedNoDestination);
    public long RejectedSni => Interlocked.Read(ref _rejectedSni);
    public long RejectedRemoved => Interlocked.Read(ref _rejectedRemoved);
    public long SockmapConnections => Interlocked.Read(ref _sockmapConnections);
    public long UserSpaceConnections => Interlocked.Read(ref _userSpaceConnections);
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    /// <summary>Counts the connection in; false (and nothing counted as active) when the route is at its limit.</summary>
    public bool TryEnter(int? maxConnections)
    {
        Interlocked.Increment(ref _total);
        var active = Interlocked.Increment(ref _active);
        if (maxConnections is { } max && active > max)
        {
            Interlocked.Decrement(ref _active);
            Interlocked.Increment(ref _rejectedMaxConnections);
            return false;
        }
        return true;
    }

    public void Exit() => Interlocked.Decrement(ref _active);

    public void CountConnectFailure() => Interlocked.Increment(ref _connectFailures);
    public void CountNoDestination() => Interlocked.Increment(ref _rejectedNoDestination);
    public void CountSniRejected() => Interlocked.Increment(ref _rejectedSni);

    public void CountRemoved()
    {
        Interlocked.Increment(ref _total);
        Interlocked.Increment(ref _rejectedRemoved);
    }

    /// <summary>Counts a forwarded connection by path (bytes are counted by the data path itself, live).</summary>
    public void CountForwarded(DataPathKind path, bool fallback)
    {
        Interlocked.Increment(ref path == DataPathKind.Sockmap ? ref _sockmapConnections : ref _userSpaceConnections);
        if (fallback)
        {
            Interlocked.Increment(ref _fallbacks);
        }
    }
}
