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
    public ulong AcctK;        // K: with AcctU, this direction's share of Budget.Used: AcctK - AcctU
    public ulong AcctU;        // U
    public ulong BacklogPeak;  // K: the largest backlog measured
    public uint ParkReason;    // K: 1 = the connection's high mark, 2 = the process budget
    public uint BudgetParks;   // K: parks started because of the process budget
    public uint Admit;         // U: 1 = park when the peer's send buffer cannot take the backlog and this skb
    public uint PeerFullParks; // K: parks started because the peer's send buffer was full
}

/// <summary>Mirror of <c>struct budget</c> in bpf/sockmap_forward.h: the one element of the mmap-ed <c>budget</c> array.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Budget
{
    public ulong Used;   // K+U: sum of every slot's share (AcctK - AcctU)
    public ulong Peak;   // K
    public ulong Limit;  // U: 0 = no budget
    public ulong Parks;  // K
}
