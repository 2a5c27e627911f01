using System.Net.Sockets;
using BpfSteer.Interop;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath;

/// <summary>Writes and drains used while a connection is set up (never blocking the caller), and close helpers.</summary>
internal static class SocketIo
{
    public const int ChunkSize = 64 * 1024;

    /// <summary>Prepares a socket the forwarder now owns: non-blocking (splice and recv rely on it), no Nagle delay.</summary>
    public static void Adopt(Socket socket)
    {
        socket.Blocking = false;
        socket.NoDelay = true;
    }

    /// <summary>The longest pause between two attempts of <see cref="WriteAllAsync"/> to write into a full send buffer.</summary>
    private const int MaxWriteRetryMs = 50;

    /// <summary>
    /// Writes every byte without blocking the calling thread: a write that finds the send buffer full is tried again
    /// after a pause on a timer (1 ms, doubling to 50 ms) until <paramref name="deadline"/> (Environment.TickCount64);
    /// returns 0 or an errno. Completes synchronously when the buffer has room, which on a new connection it has; a pause
    /// ends early with <see cref="OperationCanceledException"/> when <paramref name="abort"/> is cancelled.
    /// </summary>
    public static async ValueTask<int> WriteAllAsync(Socket socket, ReadOnlyMemory<byte> data, long deadline, CancellationToken abort)
    {
        var pause = 1;
        while (!data.IsEmpty)
        {
            var r = NativeSocket.TrySend(socket.SafeHandle, data.Span, MSG_DONTWAIT);
            if (r.IsSuccess)
            {
                data = data[(int)r.Value..];
                pause = 1;
                continue;
            }
            if (r.Errno != Errno.EAGAIN)
            {
                return r.Errno;
            }
            var left = deadline - Environment.TickCount64;
            if (left <= 0)
            {
                return Errno.ETIMEDOUT;
            }
            await Task.Delay((int)Math.Min(pause, left), abort).ConfigureAwait(false);
            pause = Math.Min(pause * 2, MaxWriteRetryMs);
        }
        return 0;
    }

    /// <summary>
    /// Reads <paramref name="source"/> until EAGAIN and writes everything to <paramref name="destination"/>
    /// (docs/design.md, "Sockmap: reading before insertion": a socket is either not read at all before insertion or drained completely).
    /// </summary>
    /// <returns>0 or the errno that stopped it, and the bytes moved.</returns>
    public static async ValueTask<(int Errno, long Moved)> DrainAsync(Socket source, Socket destination, byte[] buffer, long deadline, CancellationToken abort)
    {
        long moved = 0;
        while (true)
        {
            var r = NativeSocket.TryReceive(source.SafeHandle, buffer, MSG_DONTWAIT);
            if (!r.IsSuccess)
            {
                return (r.Errno == Errno.EAGAIN ? 0 : r.Errno, moved);
            }
            if (r.Value == 0)
            {
                return (0, moved);
            }
            var w = await WriteAllAsync(destination, buffer.AsMemory(0, (int)r.Value), deadline, abort).ConfigureAwait(false);
            if (w != 0)
            {
                return (w, moved);
            }
            moved += r.Value;
        }
    }

    /// <summary>
    /// Bytes ever queued for sending on <paramref name="socket"/>: tcpi_bytes_acked + SIOCOUTQ (docs/design.md, "Sockmap: half-close barrier");
    /// -1 when the socket cannot tell (closed or reset).
    /// </summary>
    public static long QueuedTotal(Socket socket)
    {
        var info = NativeSocket.TryGetTcpInfo(socket.SafeHandle, out var tcp);
        var outq = NativeSocket.TryQueueSize(socket.SafeHandle, SIOCOUTQ);
        return info.IsSuccess && outq.IsSuccess ? (long)tcp.BytesAcked + outq.Value : -1;
    }

    /// <summary>Closes with SO_LINGER {1, 0}: the peer gets a RST, which is how a reset is propagated.</summary>
    public static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // Already dead; closing is all that is left.
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        socket.Dispose();
    }

    /// <summary>Reads and clears SO_ERROR; 0 when none.</summary>
    public static int TakeError(Socket socket)
    {
        var r = NativeSocket.TryGetInt(socket.SafeHandle, SOL_SOCKET, SO_ERROR);
        return r.IsSuccess ? r.IntValue : r.Errno;
    }

    /// <summary>A socket error that means the peer is gone (RST or timeout), as opposed to EPIPE after a FIN (docs/design.md, "Sockmap: FIN and EPIPE").</summary>
    public static bool IsReset(int errno)
        => errno is Errno.ECONNRESET or Errno.ETIMEDOUT or Errno.ECONNABORTED or Errno.EHOSTUNREACH or Errno.ENETUNREACH;
}
