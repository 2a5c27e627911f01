using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace Yarp.SockmapForwarder.DataPath.UserSpace;

/// <summary>
/// The user-space path for a client that is only Kestrel pipes (no socket hand-off): pipe ↔ backend socket with
/// the same half-close, reset and idle semantics as <see cref="SpliceConnection"/>. Runs on the thread pool, where
/// Kestrel's own transport already runs this connection.
/// </summary>
internal static class PipeForwarder
{
    public static async Task<ForwardingResult> ForwardAsync(ForwardingRequest request, Action<long, long>? onBytes, CancellationToken cancellationToken)
    {
        var pipe = request.ClientPipe!;
        var backend = request.Backend;
        backend.NoDelay = true;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var idle = request.Route.IdleTimeout;
        var lastActivity = Environment.TickCount64;
        long c2b = 0, b2c = 0;
        var reason = -1; // the first failure wins
        void Fail(CloseReason why)
        {
            Interlocked.CompareExchange(ref reason, (int)why, -1);
            cts.Cancel();
        }

        async Task ClientToBackend()
        {
            try
            {
                await SendAll(backend, request.BackendPreamble, cts.Token).ConfigureAwait(false);
                await SendAll(backend, request.ClientBufferedData, cts.Token).ConfigureAwait(false);
                c2b += request.ClientBufferedData.Length;
                while (true)
                {
                    var result = await pipe.Input.ReadAsync(cts.Token).ConfigureAwait(false);
                    foreach (var segment in result.Buffer)
                    {
                        await SendAll(backend, segment, cts.Token).ConfigureAwait(false);
                        c2b += segment.Length;
                        onBytes?.Invoke(segment.Length, 0);
                    }
                    lastActivity = Environment.TickCount64;
                    pipe.Input.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted || result.IsCanceled)
                    {
                        backend.Shutdown(SocketShutdown.Send); // half-close; the other direction keeps flowing
                        return;
                    }
                }
            }
            catch (SocketException)
            {
                Fail(CloseReason.BackendReset);
            }
            catch (ConnectionResetException)
            {
                Fail(CloseReason.ClientReset);
            }
            catch (IOException)
            {
                Fail(CloseReason.ClientReset);
            }
            catch (OperationCanceledException)
            {
                Fail(CloseReason.Aborted);
            }
        }

        async Task BackendToClient()
        {
            try
            {
                while (true)
                {
                    var memory = pipe.Output.GetMemory(SocketIo.ChunkSize);
                    var n = await backend.ReceiveAsync(memory, SocketFlags.None, cts.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        await pipe.Output.CompleteAsync().ConfigureAwait(false);
                        return;
                    }
                    pipe.Output.Advance(n);
                    b2c += n;
                    onBytes?.Invoke(0, n);
                    lastActivity = Environment.TickCount64;
                    var flush = await pipe.Output.FlushAsync(cts.Token).ConfigureAwait(false);
                    if (flush.IsCompleted)
                    {
                        Fail(CloseReason.ClientReset);
                        return;
                    }
                }
            }
            catch (SocketException)
            {
                Fail(CloseReason.BackendReset);
            }
            catch (OperationCanceledException)
            {
                Fail(CloseReason.Aborted);
            }
        }

        var both = Task.WhenAll(ClientToBackend(), BackendToClient());
        if (idle > TimeSpan.Zero && idle != Timeout.InfiniteTimeSpan)
        {
            var period = TimeSpan.FromMilliseconds(Math.Max(10, idle.TotalMilliseconds / 4));
            while (await Task.WhenAny(both, Task.Delay(period, CancellationToken.None)).ConfigureAwait(false) != both)
            {
                if (Environment.TickCount64 - Volatile.Read(ref lastActivity) > (long)idle.TotalMilliseconds)
                {
                    Fail(CloseReason.IdleTimeout);
                    break;
                }
            }
        }
        await both.ConfigureAwait(false);
        var final = reason < 0 ? CloseReason.Completed : (CloseReason)reason;
        if (final is CloseReason.Completed or CloseReason.IdleTimeout)
        {
            backend.Dispose();
        }
        else
        {
            SocketIo.Reset(backend);
        }
        Exception? Error() => final == CloseReason.Completed ? null : new ConnectionAbortedException(final.Name());
        await pipe.Input.CompleteAsync(Error()).ConfigureAwait(false);
        await pipe.Output.CompleteAsync(Error()).ConfigureAwait(false);
        return new ForwardingResult(DataPathKind.UserSpace, c2b, b2c, final);
    }

    private static async ValueTask SendAll(Socket socket, ReadOnlyMemory<byte> data, CancellationToken token)
    {
        while (!data.IsEmpty)
        {
            var n = await socket.SendAsync(data, SocketFlags.None, token).ConfigureAwait(false);
            data = data[n..];
        }
    }
}
