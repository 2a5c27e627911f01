using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Builds the PROXY protocol header (haproxy's proxy-protocol.txt) that tells the backend who the client is.
/// <c>source</c> is the client's address, <c>destination</c> the address the client connected to (the proxy's listener).
/// </summary>
internal static class ProxyProtocolHeader
{
    /// <summary>The v2 signature: \r\n\r\n\0\r\nQUIT\n.</summary>
    public static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private const byte V2ProxyCommand = 0x21;   // version 2, PROXY
    private const byte V2LocalCommand = 0x20;   // version 2, LOCAL (no addresses: the receiver uses the real ones)
    private const byte TcpOverIPv4 = 0x11;
    private const byte TcpOverIPv6 = 0x21;
    private const byte Unspecified = 0x00;

    public static byte[] Build(ProxyProtocolVersion version, EndPoint? source, EndPoint? destination) => version switch
    {
        ProxyProtocolVersion.None => [],
        ProxyProtocolVersion.V1 => BuildV1(source, destination),
        ProxyProtocolVersion.V2 => BuildV2(source, destination),
        _ => throw new ArgumentOutOfRangeException(nameof(version), version, null),
    };

    public static byte[] BuildV1(EndPoint? source, EndPoint? destination)
    {
        if (!TryGetPair(source, destination, out var src, out var dst))
        {
            return Encoding.ASCII.GetBytes("PROXY UNKNOWN\r\n");
        }
        var family = src.AddressFamily == AddressFamily.InterNetwork ? "TCP4" : "TCP6";
        // The spec's longest line is 107 bytes ("PROXY TCP6 " + two 39-char addresses + two ports + CRLF).
        return Encoding.ASCII.GetBytes($"PROXY {family} {src.Address} {dst.Address} {src.Port} {dst.Port}\r\n");
    }

    public static byte[] BuildV2(EndPoint? source, EndPoint? destination)
    {
        if (!TryGetPair(source, destination, out var src, out var dst))
        {
            var local = new byte[16];
            V2Signature.CopyTo(local);
            local[12] = V2LocalCommand;
            local[13] = Unspecified;
            return local; // length 0
        }
        var addressLength = src.AddressFamily == AddressFamily.InterNetwork ? 4 : 16;
        var payloadLength = 2 * addressLength + 4;
        var header = new byte[16 + payloadLength];
        V2Signature.CopyTo(header);
        header[12] = V2ProxyCommand;
        header[13] = addressLength == 4 ? TcpOverIPv4 : TcpOverIPv6;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)payloadLength);
        var span = header.AsSpan(16);
        src.Address.TryWriteBytes(span, out _);
        dst.Address.TryWriteBytes(span[addressLength..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(span[(2 * addressLength)..], (ushort)src.Port);
        BinaryPrimitives.WriteUInt16BigEndian(span[(2 * addressLength + 2)..], (ushort)dst.Port);
        return header;
    }

    /// <summary>
    /// Both endpoints in one family. A dual-mode listener reports IPv4 clients as IPv4-mapped IPv6 addresses: when both
    /// are mapped they are written as IPv4 (what the client really used); a mix of families falls back to IPv6.
    /// </summary>
    private static bool TryGetPair(EndPoint? source, EndPoint? destination, out IPEndPoint src, out IPEndPoint dst)
    {
        src = dst = null!;
        if (source is not IPEndPoint s || destination is not IPEndPoint d
            || s.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            || d.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            return false;
        }
        var sa = s.Address.IsIPv4MappedToIPv6 ? s.Address.MapToIPv4() : s.Address;
        var da = d.Address.IsIPv4MappedToIPv6 ? d.Address.MapToIPv4() : d.Address;
        if (sa.AddressFamily != da.AddressFamily)
        {
            sa = sa.MapToIPv6();
            da = da.MapToIPv6();
        }
        // A scope id is meaningless to the backend and is not part of either format.
        if (sa.AddressFamily == AddressFamily.InterNetworkV6)
        {
            sa = new IPAddress(sa.GetAddressBytes());
            da = new IPAddress(da.GetAddressBytes());
        }
        src = new IPEndPoint(sa, s.Port);
        dst = new IPEndPoint(da, d.Port);
        return true;
    }
}
