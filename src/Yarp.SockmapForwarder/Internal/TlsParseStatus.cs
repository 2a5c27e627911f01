namespace Yarp.SockmapForwarder.Internal;

/// <summary>The answer of <see cref="TlsClientHello.TryGetServerName"/>.</summary>
internal enum TlsParseStatus
{
    NeedMoreData,
    Complete,
    NotTls,
}
