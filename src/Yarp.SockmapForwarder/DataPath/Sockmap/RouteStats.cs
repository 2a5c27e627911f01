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

/// <summary><see cref="RouteStats"/> of one route summed over CPUs, with the verdict runs kept per CPU.</summary>
/// <param name="BytesClientToBackend">Bytes redirected client to backend.</param>
/// <param name="BytesBackendToClient">Bytes redirected backend to client.</param>
/// <param name="VerdictsClientToBackend">Verdict runs per CPU, client to backend.</param>
/// <param name="VerdictsBackendToClient">Verdict runs per CPU, backend to client.</param>
/// <param name="Passed">Bytes parked (either direction).</param>
/// <param name="RedirectFailed">Redirects refused because the peer had left the map (the skb was dropped).</param>
internal readonly record struct RouteTotals(long BytesClientToBackend, long BytesBackendToClient, long[] VerdictsClientToBackend,
    long[] VerdictsBackendToClient, long Passed, long RedirectFailed);
