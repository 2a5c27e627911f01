namespace Yarp.SockmapForwarder.Internal;

/// <summary>What a <see cref="ListenAddress"/> binds.</summary>
internal enum ListenAddressKind
{
    Ip,
    Any,
    Localhost,
}
