using BpfSteer.Interop;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath.Sockmap;

/// <summary>
/// The calling thread's effective capabilities (capget with pid 0). The BPF verifier checks the credentials of the
/// thread that calls bpf(BPF_PROG_LOAD), which /proc/self/status (the process leader) does not always show.
/// </summary>
internal static unsafe class ThreadCapabilities
{
    private const int CapSysAdmin = 21;
    private const int CapPerfmon = 38;

    /// <summary>True when the verifier's perfmon_capable() holds: CAP_PERFMON or CAP_SYS_ADMIN.</summary>
    public static bool HasPerfmon()
    {
        var effective = Effective();
        return (effective & ((1UL << CapPerfmon) | (1UL << CapSysAdmin))) != 0;
    }

    public static ulong Effective()
    {
        var header = new CapUserHeader { Version = LinuxCapabilityVersion3, Pid = 0 };
        var data = stackalloc CapUserData[2];
        if (CapGet(&header, data) != 0)
        {
            // capget(2) on the calling thread fails only on a bad version; assume nothing rather than too much.
            return 0;
        }
        return data[0].Effective | ((ulong)data[1].Effective << 32);
    }
}
