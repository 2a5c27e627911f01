namespace Yarp.SockmapForwarder.DataPath;

/// <summary>The data path chosen for a connection, and why.</summary>
/// <param name="Path">"Sockmap" or "UserSpace".</param>
/// <param name="Reason">Why: the route mode, a probe or self-test result, the placement rule, a full map...</param>
internal sealed record ForwardingPath(string Path, string Reason)
{
    public const string Sockmap = "Sockmap";
    public const string UserSpace = "UserSpace";

    public bool IsSockmap => Path == Sockmap;
}
