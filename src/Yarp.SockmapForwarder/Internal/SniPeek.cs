using System.Buffers;
using System.IO.Pipelines;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Reads the TLS ClientHello's server name from the client's input pipe without consuming anything: every byte examined
/// stays in the pipe (Sockets transport: the forwarder reads it next; BpfSteer: the hand-off returns it as buffered data),
/// so the backend receives the ClientHello exactly once, unchanged.
/// </summary>
internal static class SniPeek
{
    /// <summary>The ClientHello must arrive within this time of the connection being accepted.</summary>
    public static readonly TimeSpan ClientHelloTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The server name, <c>""</c> for a ClientHello without one, or null when the bytes are not a TLS ClientHello.</summary>
    public static async Task<string?> ReadServerNameAsync(PipeReader input, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ClientHelloTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
            var buffer = result.Buffer;
            var status = Parse(buffer, out var serverName);
            if (status != TlsParseStatus.NeedMoreData || result.IsCompleted || result.IsCanceled || buffer.Length >= TlsClientHello.MaxBytes)
            {
                input.AdvanceTo(buffer.Start); // consume nothing
                return status == TlsParseStatus.Complete ? serverName ?? "" : null;
            }
            input.AdvanceTo(buffer.Start, buffer.End); // examined all, consumed nothing: wait for more
        }
    }

    private static TlsParseStatus Parse(ReadOnlySequence<byte> buffer, out string? serverName)
    {
        if (buffer.IsSingleSegment)
        {
            return TlsClientHello.TryGetServerName(buffer.FirstSpan, out serverName);
        }
        var copy = buffer.Slice(0, Math.Min(buffer.Length, TlsClientHello.MaxBytes)).ToArray();
        return TlsClientHello.TryGetServerName(copy, out serverName);
    }
}
