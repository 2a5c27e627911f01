namespace Yarp.SockmapForwarder;

/// <summary>How a TCP route moves payload.</summary>
public enum TcpForwarderMode
{
    /// <summary>Sockmap when this process and kernel can use it and the placement makes it faster; otherwise user space.</summary>
    Auto,

    /// <summary>Always the in-kernel sockmap path; a route that cannot use it fails validation at start.</summary>
    Sockmap,

    /// <summary>Always the user-space path (splice on the route's CPU).</summary>
    UserSpace,
}
