namespace Yarp.SockmapForwarder.Internal;

/// <summary>Close reasons decided before the data path runs (the data path reports its own, e.g. "completed", "idle-timeout").</summary>
internal static class CloseReasons
{
    public const string RouteRemoved = "route-removed";
    public const string MaxConnections = "max-connections";
    public const string SniMismatch = "sni-mismatch";
    public const string NoDestination = "no-destination";
    public const string HandoffFailed = "handoff-failed";
    public const string Error = "error";
}
