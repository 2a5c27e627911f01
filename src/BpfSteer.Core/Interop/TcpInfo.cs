using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

/// <summary>
/// The leading part of struct tcp_info (linux/tcp.h) up to tcpi_bytes_received. The kernel copies
/// min(optlen, its size), so a prefix is safe. A test checks the offsets against the C header.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 136)]
internal struct TcpInfo
{
    /// <summary>tcpi_state of an established connection (TCP_ESTABLISHED, include/net/tcp_states.h; not in the uapi headers).</summary>
    public const byte Established = 1;

    [FieldOffset(0)] public byte State;
    [FieldOffset(80)] public uint SndCwnd;
    [FieldOffset(120)] public ulong BytesAcked;
    [FieldOffset(128)] public ulong BytesReceived;
}
