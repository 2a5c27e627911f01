using System.Runtime.InteropServices;

namespace Yarp.SockmapForwarder.DataPath.Sockmap;

/// <summary>Mirror of <c>struct conn_state</c> in bpf/sockmap_forward.h (the <c>conns</c> HASH value).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ConnState
{
    public const uint NoCpu = 0xffffffff;

    public ulong PeerCookie;
    public uint Slot;
    public uint Route;
    public uint Direction;
    public uint Cpu;
}
