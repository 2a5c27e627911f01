namespace Yarp.SockmapForwarder.DataPath;

/// <summary>The data path chosen for a connection, and why.</summary>
/// <param name="Path">The path.</param>
/// <param name="Reason">Why: the route mode, a probe or self-test result, the placement rule, a full map...</param>
internal sealed record ForwardingPath(DataPathKind Path, string Reason)
{
    public bool IsSockmap => Path == DataPathKind.Sockmap;
}
