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
    public uint ParkReason;    // K: see ParkReason
    public uint BudgetParks;   // K: parks started because of the process budget
    public uint PeerFullParks; // K: parks started because the peer's send buffer was full
    public uint HighMarkParks; // K: parks started because the backlog reached HighMark
}

/// <summary>Why a direction's latest park started (<c>PARK_*</c> in bpf/sockmap_forward.bpf.c).</summary>
internal enum ParkReason : uint
{
    None = 0,

    /// <summary>The direction's backlog reached its high mark (the route's MaxQueuedBytes).</summary>
    HighMark = 1,

    /// <summary>The process-wide budget was used up.</summary>
    Budget = 2,

    /// <summary>The peer's send buffer could not take the backlog and the skb.</summary>
    PeerFull = 3,
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
