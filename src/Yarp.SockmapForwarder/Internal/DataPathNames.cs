namespace Yarp.SockmapForwarder.Internal;

/// <summary>The two values of <c>ForwardingResult.Path</c>.</summary>
internal static class DataPathNames
{
    public const string Sockmap = nameof(TcpForwarderMode.Sockmap);
    public const string UserSpace = nameof(TcpForwarderMode.UserSpace);
}
