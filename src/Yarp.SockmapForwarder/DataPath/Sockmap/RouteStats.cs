using System.Runtime.InteropServices;

namespace Yarp.SockmapForwarder.DataPath.Sockmap;

/// <summary>Mirror of <c>struct route_stats</c> in bpf/sockmap_forward.h (one value per CPU per route).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RouteStats
{
    public ulong BytesClientToBackend;
    public ulong BytesBackendToClient;
    public ulong VerdictsClientToBackend;
    public ulong VerdictsBackendToClient;
    public ulong Passed;
    public ulong RedirectFailed;
}
