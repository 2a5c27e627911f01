using System.Runtime.InteropServices;

namespace Yarp.SockmapForwarder.DataPath.Sockmap;

/// <summary>
/// Mirror of <c>struct conn_slot</c> in bpf/sockmap_forward.h: one direction of one connection, in the mmap-ed
/// <c>slots</c> array. Fields marked K are written by the verdict program, U by user space; both sides use atomic
/// or volatile accesses only.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ConnSlot
{
    public ulong Redirected;   // K
    public ulong Passed;       // K
    public ulong Verdicts;     // K
    public ulong Parks;        // K
    public ulong Written;      // K (measured by the verdict; user space also publishes its own measurement)
    public ulong Consumed;     // U
    public ulong HighMark;     // U
    public ulong PeerBase;     // U
    public uint Parked;        // K
    public uint LastCpu;       // K
    public ulong Trimmed;      // K: retransmitted bytes cut from skb heads (see cut_seen_head in the BPF source)
    public uint NextSeq;       // K
    public uint SeqKnown;      // K
    public uint Overlaps;      // K
    public uint TrimFailed;    // K: non-zero = bytes were dropped, the connection must be reset
}
