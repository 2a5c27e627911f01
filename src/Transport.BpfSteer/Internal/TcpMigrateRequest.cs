using Microsoft.Extensions.Logging;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// Keeps <c>net.ipv4.tcp_migrate_req</c> at 1 while any BpfSteer listener is bound in this process, so a closing
/// reuseport member hands its queued connections to another member instead of resetting them; restores the previous
/// value when the last one is released. The sysctl is per network namespace, so the count is process-wide.
/// </summary>
internal static class TcpMigrateRequest
{
    internal const string SysctlPath = "/proc/sys/net/ipv4/tcp_migrate_req";
    private static readonly object s_lock = new();
    private static int s_users;
    private static string? s_previous;

    /// <summary>Takes a reference; returns whether migration is on (already, or set by us).</summary>
    public static bool Acquire(ILogger logger)
    {
        lock (s_lock)
        {
            s_users++;
            try
            {
                var current = File.ReadAllText(SysctlPath).Trim();
                if (current != "0")
                {
                    return true;
                }
                if (s_previous is null)
                {
                    File.WriteAllText(SysctlPath, "1");
                    s_previous = current;
                    BpfSteerLog.MigrateRequestEnabled(logger, current);
                }
                return true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                BpfSteerLog.MigrateRequestUnavailable(logger, ex.Message);
                return false;
            }
        }
    }

    public static void Release()
    {
        lock (s_lock)
        {
            if (--s_users > 0 || s_previous is null)
            {
                return;
            }
            try
            {
                File.WriteAllText(SysctlPath, s_previous);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Nothing more to do: the value stays 1, which only makes closing listeners gentler.
            }
            s_previous = null;
        }
    }
}
