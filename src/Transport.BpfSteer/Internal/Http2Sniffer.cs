using System.Buffers.Binary;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// Recognises, from the first bytes a client sends, a connection that is going to speak HTTP/2: the h2c client preface
/// ("PRI * HTTP/2.0"), or a TLS ClientHello whose ALPN list offers "h2" (Kestrel picks h2 whenever the endpoint allows
/// it). Reads only; a ClientHello not whole in these bytes (several records, a short read) counts as not HTTP/2.
/// </summary>
internal static class Http2Sniffer
{
    private const byte HandshakeRecord = 22;
    private const byte ClientHelloMessage = 1;
    private const ushort AlpnExtension = 16;

    public static bool IsHttp2(ReadOnlySpan<byte> first)
        => first.StartsWith("PRI * HTTP/2"u8) || OffersH2(first);

    private static bool OffersH2(ReadOnlySpan<byte> data)
    {
        // TLSPlaintext header (type, version, length), then the handshake header (type, 24-bit length).
        if (data.Length < 9 || data[0] != HandshakeRecord || data[1] != 3 || data[5] != ClientHelloMessage)
        {
            return false;
        }
        var record = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(data[3..]), data.Length - 5);
        var body = data.Slice(9, Math.Max(0, record - 4));
        if (!Skip(ref body, 2 + 32) || !SkipVector(ref body, 1) || !SkipVector(ref body, 2) || !SkipVector(ref body, 1)
            || !ReadVector(ref body, 2, out var extensions))
        {
            return false; // legacy_version, random, session_id, cipher_suites, compression_methods, extensions
        }
        while (extensions.Length >= 4)
        {
            var type = BinaryPrimitives.ReadUInt16BigEndian(extensions);
            extensions = extensions[2..];
            if (!ReadVector(ref extensions, 2, out var extension))
            {
                return false;
            }
            if (type != AlpnExtension)
            {
                continue;
            }
            if (!ReadVector(ref extension, 2, out var names))
            {
                return false;
            }
            while (ReadVector(ref names, 1, out var name))
            {
                if (name.SequenceEqual("h2"u8))
                {
                    return true;
                }
            }
            return false;
        }
        return false;
    }

    private static bool Skip(ref ReadOnlySpan<byte> span, int count)
    {
        if (span.Length < count)
        {
            return false;
        }
        span = span[count..];
        return true;
    }

    private static bool SkipVector(ref ReadOnlySpan<byte> span, int lengthBytes) => ReadVector(ref span, lengthBytes, out _);

    private static bool ReadVector(ref ReadOnlySpan<byte> span, int lengthBytes, out ReadOnlySpan<byte> vector)
    {
        vector = default;
        if (span.Length < lengthBytes)
        {
            return false;
        }
        var length = lengthBytes == 1 ? span[0] : BinaryPrimitives.ReadUInt16BigEndian(span);
        if (span.Length < lengthBytes + length)
        {
            return false;
        }
        vector = span.Slice(lengthBytes, length);
        span = span[(lengthBytes + length)..];
        return true;
    }
}
