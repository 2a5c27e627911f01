namespace Yarp.SockmapForwarder.DataPath;

/// <summary>
/// The per-route counter indexes, shared by the BPF map <c>route_stats</c> and <see cref="RouteCounters"/>. A configured
/// route's index is its position in the configuration; the last index belongs to the start-up self-test, so no route
/// counts the self-test's bytes and verdict runs as its own.
/// </summary>
internal static class RouteIndexes
{
    /// <summary>Entries of every per-route counter array: <c>BPFSTEER_MAX_ROUTES</c> in bpf/sockmap_forward.h.</summary>
    public const int Count = 256;

    /// <summary>The index the self-test forwards on (reserved).</summary>
    public const int SelfTest = Count - 1;

    /// <summary>The most TCP routes a configuration may declare: indexes 0 to <see cref="SelfTest"/> - 1.</summary>
    public const int MaxConfiguredRoutes = SelfTest;
}
