using System.Net.Sockets;

namespace BpfSteer.Interop;

/// <summary>
/// errno → <see cref="SocketException"/>, as the runtime's own sockets report it, for sockets that stand in for a
/// <see cref="System.Net.Sockets.Socket"/> (the HTTP upstream connections): callers such as SocketsHttpHandler then see
/// the same error codes and messages for the same cause.
/// </summary>
internal static class SocketErrorMap
{
    public static SocketException ToSocketException(int errno) => new((int)ToSocketError(errno));

    public static SocketError ToSocketError(int errno) => errno switch
    {
        Errno.ECONNREFUSED => SocketError.ConnectionRefused,
        Errno.ECONNRESET => SocketError.ConnectionReset,
        Errno.ECONNABORTED => SocketError.ConnectionAborted,
        Errno.EPIPE => SocketError.Shutdown,
        Errno.ETIMEDOUT => SocketError.TimedOut,
        Errno.EHOSTUNREACH => SocketError.HostUnreachable,
        Errno.ENETUNREACH => SocketError.NetworkUnreachable,
        Errno.EADDRNOTAVAIL => SocketError.AddressNotAvailable,
        Errno.EADDRINUSE => SocketError.AddressAlreadyInUse,
        Errno.ENOTCONN => SocketError.NotConnected,
        Errno.EAGAIN => SocketError.WouldBlock,
        Errno.EINPROGRESS => SocketError.InProgress,
        Errno.EACCES or Errno.EPERM => SocketError.AccessDenied,
        Errno.ENOMEM => SocketError.NoBufferSpaceAvailable,
        Errno.EINVAL => SocketError.InvalidArgument,
        Errno.EBADF => SocketError.OperationAborted,
        _ => SocketError.SocketError,
    };
}
