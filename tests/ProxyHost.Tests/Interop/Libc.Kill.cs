using System.Runtime.InteropServices;

namespace ProxyHost.Tests.Interop;

/// <summary>kill(2), to stop ProxyHost the way systemd does (SIGTERM), which Process.Kill cannot do.</summary>
internal static partial class Libc
{
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);
}
