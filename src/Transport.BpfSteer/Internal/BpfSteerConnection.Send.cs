using System.Buffers;
using BpfSteer.Interop;
using Microsoft.AspNetCore.Connections;

namespace BpfSteer.Transport.Internal;

internal sealed partial class BpfSteerConnection
{
    private async Task DoSend()
    {
        Exception? shutdownReason = null;
        Exception? unexpectedError = null;
        try
        {
            await ProcessSends().ConfigureAwait(false);
        }
        catch (ConnectionResetException ex)
        {
            shutdownReason = ex;
            BpfSteerLog.ConnectionReset(_logger, ConnectionId);
        }
        catch (Exception ex)
        {
            shutdownReason = ex;
            unexpectedError = ex;
            BpfSteerLog.ConnectionError(_logger, ConnectionId, ex);
        }
        finally
        {
            Shutdown(shutdownReason);
            _output.Reader.Complete(unexpectedError);
            // Un-pause the receive loop if it waits on a full input pipe.
            _input.Writer.CancelPendingFlush();
        }
    }

    private async Task ProcessSends()
    {
        var output = _output.Reader;
        while (true)
        {
            var result = await output.ReadAsync().ConfigureAwait(false);
            if (result.IsCanceled)
            {
                break;
            }
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                await SendAsync(buffer).ConfigureAwait(false);
            }
            output.AdvanceTo(buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }
    }

    private ValueTask SendAsync(in ReadOnlySequence<byte> buffer)
        => buffer.IsSingleSegment ? SendAsync(buffer.First) : SendGatheredAsync(buffer);

    /// <summary>Several segments (e.g. a large response): one sendmsg for up to 64 of them at a time.</summary>
    private async ValueTask SendGatheredAsync(ReadOnlySequence<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var sent = NativeSocketVector.TrySend(_socket, buffer);
            if (sent.IsSuccess)
            {
                buffer = buffer.Slice(sent.Value);
                continue;
            }
            if (sent.Errno != Errno.EAGAIN)
            {
                throw ErrnoMap.ToException(sent.Errno, "sendmsg");
            }
            await WhenWritable();
        }
    }

    /// <summary>Synchronous while the socket takes the bytes; waits for EPOLLOUT only after EAGAIN.</summary>
    private ValueTask SendAsync(ReadOnlyMemory<byte> memory)
    {
        while (!memory.IsEmpty)
        {
            var sent = NativeSocket.TrySend(_socket, memory.Span);
            if (sent.IsSuccess)
            {
                memory = memory.Slice(sent.IntValue);
                continue;
            }
            if (sent.Errno != Errno.EAGAIN)
            {
                throw ErrnoMap.ToException(sent.Errno, "send");
            }
            return SendWhenWritableAsync(memory);
        }
        return default;
    }

    private async ValueTask SendWhenWritableAsync(ReadOnlyMemory<byte> memory)
    {
        await WhenWritable();
        while (!memory.IsEmpty)
        {
            var sent = NativeSocket.TrySend(_socket, memory.Span);
            if (sent.IsSuccess)
            {
                memory = memory.Slice(sent.IntValue);
            }
            else if (sent.Errno == Errno.EAGAIN)
            {
                await WhenWritable();
            }
            else
            {
                throw ErrnoMap.ToException(sent.Errno, "send");
            }
        }
    }

    /// <summary>
    /// After an EAGAIN: when an EPOLLOUT edge has come since the last reset, reset and return at once (the caller retries
    /// the send); otherwise wait for the next edge. The send loop may run on any thread while the worker sets the signal,
    /// so an edge that lands between the EAGAIN and the reset must not be lost: the retry after the reset sees its space.
    /// </summary>
    private ValueTask WhenWritable()
    {
        if (_writable.IsSet)
        {
            _writable.Reset();
            return default;
        }
        return AwaitWritable();
    }

    private async ValueTask AwaitWritable() => await _writable;
}
