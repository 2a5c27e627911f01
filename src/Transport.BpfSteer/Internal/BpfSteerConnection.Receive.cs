using BpfSteer.Interop;
using Microsoft.AspNetCore.Connections;

namespace BpfSteer.Transport.Internal;

internal sealed partial class BpfSteerConnection
{
    // Half a 4 KiB pool block, as Kestrel: enough to avoid tiny reads, small enough to fill blocks well.
    private const int MinAllocBufferSize = 2048;

    private bool _protocolSniffed;

    private async Task DoReceive()
    {
        Exception? error = null;
        try
        {
            await ProcessReceives().ConfigureAwait(false);
        }
        catch (ConnectionResetException ex)
        {
            error = ex;
            if (!_socketShutdown)
            {
                BpfSteerLog.ConnectionReset(_logger, ConnectionId);
            }
        }
        catch (Exception ex)
        {
            error = ex;
            BpfSteerLog.ConnectionError(_logger, ConnectionId, ex);
        }
        finally
        {
            if (_handoff is not null)
            {
                // Hand-off: what was read stays in the pipe for DetachAsync to return; the connection is not "closed".
                _input.Writer.Complete();
            }
            else
            {
                // If Shutdown() already ran, that is why the loop ended.
                _input.Writer.Complete(_shutdownReason ?? error);
                FireConnectionClosed();
                await _waitForConnectionClosed.Task.ConfigureAwait(false);
            }
        }
    }

    private async Task ProcessReceives()
    {
        var input = _input.Writer;
        while (true)
        {
            // Wait for data before taking a buffer: idle connections hold no memory.
            if (!_readable.IsSet)
            {
                await _readable;
            }
            if (_handoff is not null)
            {
                return;
            }
            var memory = input.GetMemory(MinAllocBufferSize);
            var received = NativeSocket.TryReceive(_socket, memory.Span);
            if (!received.IsSuccess)
            {
                if (received.Errno == Errno.EAGAIN)
                {
                    _readable.Reset();
                    continue;
                }
                throw ErrnoMap.ToException(received.Errno, "recv");
            }
            if (received.Value == 0)
            {
                BpfSteerLog.ConnectionReadFin(_logger, ConnectionId);
                return;
            }
            var count = received.IntValue;
            if (count < memory.Length && !_peerClosedReading)
            {
                // A short read drained the queue; edge-triggered epoll reports the next arrival. Saves the EAGAIN call.
                // Not after RDHUP/HUP/ERR: the EOF or error is still to be read and no new edge will announce it.
                _readable.Reset();
            }
            if (!_protocolSniffed)
            {
                _protocolSniffed = true;
                if (Http2Sniffer.IsHttp2(memory.Span[..count]))
                {
                    _scheduler.OnHttp2();
                    BpfSteerLog.ConnectionHttp2OnThreadPool(_logger, ConnectionId);
                }
            }
            input.Advance(count);
            var flush = await input.FlushAsync().ConfigureAwait(false);
            if (flush.IsCompleted || flush.IsCanceled)
            {
                return;
            }
        }
    }
}
