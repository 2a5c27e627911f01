namespace Yarp.SockmapForwarder;

/// <summary>
/// How YARP's HTTP clients connect to destinations when the app runs on the BpfSteer transport. Bound from the
/// configuration section <c>BpfSteer:HttpUpstream</c>. Off the BpfSteer transport these settings have no effect.
/// </summary>
public sealed class HttpUpstreamOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "BpfSteer:HttpUpstream";

    /// <summary>
    /// Give each cluster one connection pool per BpfSteer worker, with its connections opened, read and written on that
    /// worker's thread and CPU, and send each request through the pool of the worker serving its downstream
    /// connection, so both halves of a proxied request stay on one CPU. When false, a cluster has one pool shared by
    /// every worker, as with YARP's default client (its locality is still measured and reported per worker).
    /// </summary>
    /// <remarks>Defaults to <see langword="true"/>.</remarks>
    public bool PerWorker { get; set; } = true;
}
