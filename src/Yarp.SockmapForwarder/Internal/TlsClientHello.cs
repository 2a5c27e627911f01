using System.Buffers.Binary;
using System.Text;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Finds the server_name (RFC 6066) in a TLS ClientHello, from the bytes the client sent first. It only reads: the caller
/// keeps every byte so the backend receives the ClientHello unchanged. Handles a ClientHello split over several records.
/// </summary>
internal static class TlsClientHello
{
    /// <summary>Larger than any real ClientHello (post-quantum key shares included) yet bounded.</summary>
    public const int MaxBytes = 64 * 1024;

    private const byte HandshakeRecord = 22;
    private const byte ClientHelloMessage = 1;
    private const ushort ServerNameExtension = 0;
    private const byte HostNameType = 0;

    /// <summary>Parses <paramref name="data"/>, the first bytes of the connection.</summary>
    /// <returns><see cref="TlsParseStatus.NeedMoreData"/> until the whole ClientHello is there.</returns>
    public static TlsParseStatus TryGetServerName(ReadOnlySpan<byte> data, out string? serverName)
    {
        serverName = null;
        // Gather the handshake message out of consecutive handshake records (TLSPlaintext: type, version, length).
        var handshake = new byte[Math.Min(data.Length, MaxBytes)];
        var handshakeLength = 0;
        var needed = -1;
        var offset = 0;
        while (needed < 0 || handshakeLength < needed)
        {
            if (data.Length - offset < 5)
            {
                return TlsParseStatus.NeedMoreData;
            }
            if (data[offset] != HandshakeRecord || data[offset + 1] != 3)
            {
                return TlsParseStatus.NotTls;
            }
            var recordLength = BinaryPrimitives.ReadUInt16BigEndian(data[(offset + 3)..]);
            if (recordLength == 0 || recordLength > 16384 + 2048)
            {
                return TlsParseStatus.NotTls;
            }
            if (data.Length - offset - 5 < recordLength)
            {
                return TlsParseStatus.NeedMoreData;
            }
            if (handshakeLength + recordLength > handshake.Length)
            {
                return TlsParseStatus.NotTls; // more than MaxBytes of handshake: not a ClientHello we accept
            }
            data.Slice(offset + 5, recordLength).CopyTo(handshake.AsSpan(handshakeLength));
            handshakeLength += recordLength;
            offset += 5 + recordLength;
            if (needed < 0 && handshakeLength >= 4)
            {
                if (handshake[0] != ClientHelloMessage)
                {
                    return TlsParseStatus.NotTls;
                }
                needed = 4 + (handshake[1] << 16 | handshake[2] << 8 | handshake[3]);
                if (needed > MaxBytes)
                {
                    return TlsParseStatus.NotTls;
                }
            }
        }
        return ParseClientHello(handshake.AsSpan(4, needed - 4), out serverName) ? TlsParseStatus.Complete : TlsParseStatus.NotTls;
    }

    private static bool ParseClientHello(ReadOnlySpan<byte> body, out string? serverName)
    {
        serverName = null;
        var reader = new SpanReader(body);
        if (!reader.Skip(2 + 32)                        // legacy_version, random
            || !reader.SkipVector(1)                    // legacy_session_id
            || !reader.SkipVector(2)                    // cipher_suites
            || !reader.SkipVector(1))                   // legacy_compression_methods
        {
            return false;
        }
        if (reader.Remaining == 0)
        {
            return true; // no extensions at all: no server name
        }
        if (!reader.ReadVector(2, out var extensions))
        {
            return false;
        }
        var ext = new SpanReader(extensions);
        while (ext.Remaining > 0)
        {
            if (!ext.ReadUInt16(out var type) || !ext.ReadVector(2, out var extData))
            {
                return false;
            }
            if (type != ServerNameExtension)
            {
                continue;
            }
            var list = new SpanReader(extData);
            if (!list.ReadVector(2, out var names))
            {
                return false;
            }
            var entries = new SpanReader(names);
            while (entries.Remaining > 0)
            {
                if (!entries.ReadByte(out var nameType) || !entries.ReadVector(2, out var name))
                {
                    return false;
                }
                if (nameType == HostNameType)
                {
                    serverName = Encoding.ASCII.GetString(name).TrimEnd('.');
                    return true;
                }
            }
        }
        return true;
    }

    private ref struct SpanReader(ReadOnlySpan<byte> span)
    {
        private ReadOnlySpan<byte> _span = span;

        public readonly int Remaining => _span.Length;

        public bool Skip(int count)
        {
            if (_span.Length < count)
            {
                return false;
            }
            _span = _span[count..];
            return true;
        }

        public bool ReadByte(out byte value)
        {
            value = _span.Length > 0 ? _span[0] : (byte)0;
            return Skip(1);
        }

        public bool ReadUInt16(out ushort value)
        {
            value = _span.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(_span) : (ushort)0;
            return Skip(2);
        }

        public bool ReadVector(int lengthBytes, out ReadOnlySpan<byte> vector)
        {
            vector = default;
            if (_span.Length < lengthBytes)
            {
                return false;
            }
            var length = lengthBytes == 1 ? _span[0] : BinaryPrimitives.ReadUInt16BigEndian(_span);
            if (_span.Length < lengthBytes + length)
            {
                return false;
            }
            vector = _span.Slice(lengthBytes, length);
            _span = _span[(lengthBytes + length)..];
            return true;
        }

        public bool SkipVector(int lengthBytes) => ReadVector(lengthBytes, out _);
    }
}
