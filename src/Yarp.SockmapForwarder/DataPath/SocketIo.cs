using System.Net.Sockets;
using BpfSteer.Interop;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath;

/// <summary>Blocking-with-deadline writes and drains used while a connection is set up, and close helpers.</summary>
internal static class SocketIo
{
    public const int ChunkSize = 64 * 1024;

    /// <summary>Prepares a socket the forwarder now owns: non-blocking (splice and recv rely on it), no Nagle delay.</summary>
    public static void Adopt(Socket socket)
    {
        socket.Blocking = false;
        socket.NoDelay = true;
    }

    /// <summary>Writes every byte, waiting for room with poll(2) until <paramref name="deadline"/>; returns 0 or an errno.</summary>
    public static int WriteAll(Socket socket, ReadOnlySpan<byte> data, long deadline)
    {
        while (!data.IsEmpty)
        {
            var r = NativeSocket.TrySend(socket.SafeHandle, data, MSG_DONTWAIT);
            if (r.IsSuccess)
            {
                data = data[(int)r.Value..];
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
            socket.Poll(TimeSpan.FromMilliseconds(Math.Min(left, 1000)), SelectMode.SelectWrite);
        }
        return 0;
    }

    /// <summary>
    /// Reads <paramref name="source"/> until EAGAIN and writes everything to <paramref name="destination"/>
    /// (docs/design.md, "Sockmap: reading before insertion": a socket is either not read at all before insertion or drained completely).
    /// </summary>
    /// <returns>0, or the errno that stopped it; <paramref name="eof"/> when the source reached end of stream.</returns>
    public static int Drain(Socket source, Socket destination, byte[] buffer, long deadline, ref long moved, out bool eof)
    {
        eof = false;
        while (true)
        {
            var r = NativeSocket.TryReceive(source.SafeHandle, buffer, MSG_DONTWAIT);
            if (!r.IsSuccess)
            {
                return r.Errno == Errno.EAGAIN ? 0 : r.Errno;
            }
            if (r.Value == 0)
            {
                eof = true;
                return 0;
            }
            var w = WriteAll(destination, buffer.AsSpan(0, (int)r.Value), deadline);
            if (w != 0)
            {
                return w;
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
