namespace Yarp.SockmapForwarder.DataPath;

/// <summary>The two data paths a connection can take.</summary>
internal enum DataPathKind
{
    /// <summary>The in-kernel path: both sockets in the BPF sockhash, the verdict redirects every segment.</summary>
    Sockmap,

    /// <summary>The user-space path: splice(2) between the sockets, or Kestrel's pipes when there is no socket.</summary>
    UserSpace,
}
