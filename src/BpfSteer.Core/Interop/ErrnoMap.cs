using Microsoft.AspNetCore.Connections;

namespace BpfSteer.Interop;

/// <summary>
/// The one place where an errno becomes an exception. Everything native in BpfSteer throws through here, so a user
/// sees the same kind of error for the same cause wherever it happened.
/// </summary>
internal static class ErrnoMap
{
    /// <summary>Builds the exception for <paramref name="errno"/> raised by <paramref name="operation"/>.</summary>
    /// <param name="errno">The positive errno.</param>
    /// <param name="operation">What was tried, e.g. <c>setsockopt(SO_ATTACH_REUSEPORT_CBPF)</c>.</param>
    /// <param name="setting">The user-visible setting or feature that needed it, when there is one.</param>
    public static Exception ToException(int errno, string operation, string? setting = null)
    {
        var text = Libc.StrError(errno);
        var where = setting is null ? operation : $"{operation} (needed by '{setting}')";
        return errno switch
        {
            Errno.EADDRINUSE => new AddressInUseException($"{where} failed: the address is already in use (errno {errno}, {text})."),
            Errno.EPERM or Errno.EACCES => new MissingCapabilityException(
                CapabilityFor(operation), $"{where} failed with errno {errno} ({text}): the process lacks {CapabilityFor(operation)}. " +
                "Run as root or grant the capability (e.g. systemd AmbientCapabilities=CAP_BPF CAP_NET_ADMIN)."),
            Errno.ENOSYS or Errno.EOPNOTSUPP => new PlatformNotSupportedException(
                $"{where} failed: the kernel does not support it (errno {errno}, {text})."),
            Errno.ECONNRESET or Errno.EPIPE => new ConnectionResetException($"{where} failed: the peer reset the connection (errno {errno}, {text})."),
            Errno.ECONNABORTED => new ConnectionAbortedException($"{where} failed: the connection was aborted (errno {errno}, {text})."),
            _ => new NativeIOException(errno, $"{where} failed with errno {errno} ({text})."),
        };
    }

    /// <summary>The capability an operation needs: BPF calls need CAP_BPF, socket and map-attach work CAP_NET_ADMIN.</summary>
    private static string CapabilityFor(string operation)
        => operation.StartsWith("bpf", StringComparison.Ordinal) || operation.Contains("bpf_", StringComparison.Ordinal)
            ? "CAP_BPF (and CAP_NET_ADMIN for socket programs)"
            : "CAP_NET_ADMIN";
}
