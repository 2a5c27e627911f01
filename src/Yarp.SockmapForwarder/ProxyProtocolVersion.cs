namespace Yarp.SockmapForwarder;

/// <summary>Which PROXY protocol header (haproxy's proxy-protocol.txt) a TCP route writes to the backend before any client byte.</summary>
public enum ProxyProtocolVersion
{
    /// <summary>No header: the backend sees the proxy's address.</summary>
    None,

    /// <summary>The human-readable header, e.g. <c>PROXY TCP4 10.0.0.1 10.0.0.2 50000 6380\r\n</c>.</summary>
    V1,

    /// <summary>The binary header (12-byte signature, PROXY command, TCP over IPv4/IPv6, addresses, ports).</summary>
    V2,
}
