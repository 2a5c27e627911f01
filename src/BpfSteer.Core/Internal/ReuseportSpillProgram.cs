using BpfSteer.Interop;
using static BpfSteer.Interop.SockFilter;

namespace BpfSteer.Internal;

/// <summary>
/// The CPU selector with spill-over, in classic BPF: a connection received on a member's CPU goes to that member (as
/// <see cref="ReuseportCpuProgram"/>), except that a share of them — drawn with the kernel's per-packet random number —
/// goes to another member instead. A balancer rebuilds it when one CPU is saturated while another has room, and goes
/// back to plain locality (no spill) when the load evens out.
/// </summary>
internal static class ReuseportSpillProgram
{
    /// <summary>SKF_AD_OFF + SKF_AD_RANDOM: the "load a random u32" ancillary offset.</summary>
    public const uint SKF_AD_RANDOM_OFFSET = unchecked(0xfffff000u + 56u);

    private const ushort JumpIfEqual = 0x05 | 0x10 | 0x00;        // BPF_JMP | BPF_JEQ | BPF_K
    private const ushort JumpIfGreaterOrEqual = 0x05 | 0x30 | 0x00; // BPF_JMP | BPF_JGE | BPF_K

    /// <summary>One member's spill: the share (0..1) of its connections that go to member <c>Target</c> instead.</summary>
    public readonly record struct Spill(double Share, int Target);

    /// <param name="memberCpus">The CPU of each member, in group (listen) order.</param>
    /// <param name="spills">Per member, where a share of its connections goes (Share 0: none); same order.</param>
    public static SockFilter[] Build(IReadOnlyList<int> memberCpus, IReadOnlyList<Spill> spills)
    {
        var n = memberCpus.Count;
        if (n == 0 || n > ReuseportCpuProgram.MaxWorkers || spills.Count != n)
        {
            throw new ArgumentOutOfRangeException(nameof(memberCpus), "A reuseport group needs 1 to 255 members and one spill entry per member.");
        }
        // Layout: load cpu; one compare per member; "return n" (no member for this CPU: the kernel hashes); then one block per
        // member: "return i", or "load random; if random >= threshold return i; return target".
        var blocks = new List<SockFilter>[n];
        for (var i = 0; i < n; i++)
        {
            var threshold = Threshold(spills[i].Share);
            blocks[i] = threshold == 0
                ? [new SockFilter(BPF_RET | BPF_K, (uint)i)]
                :
                [
                    new SockFilter(BPF_LD | BPF_W | BPF_ABS, SKF_AD_RANDOM_OFFSET),
                    new SockFilter(JumpIfGreaterOrEqual, threshold) { JumpTrue = 0, JumpFalse = 1 },
                    new SockFilter(BPF_RET | BPF_K, (uint)i),
                    new SockFilter(BPF_RET | BPF_K, (uint)spills[i].Target),
                ];
        }
        var program = new List<SockFilter> { new(BPF_LD | BPF_W | BPF_ABS, SKF_AD_CPU_OFFSET) };
        var blockStart = 1 + n + 1;
        for (var i = 0; i < n; i++)
        {
            // Relative to the instruction after this compare (at index 1 + i).
            var jump = blockStart - (1 + i) - 1;
            program.Add(new SockFilter(JumpIfEqual, (uint)memberCpus[i]) { JumpTrue = checked((byte)jump), JumpFalse = 0 });
            blockStart += blocks[i].Count;
        }
        program.Add(new SockFilter(BPF_RET | BPF_K, (uint)n));
        foreach (var block in blocks)
        {
            program.AddRange(block);
        }
        if (program.Count > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(memberCpus), "The program exceeds the classic BPF limit of 4096 instructions.");
        }
        return program.ToArray();
    }

    /// <summary>The random value below which a connection spills: Share × 2^32, 0 for none.</summary>
    private static uint Threshold(double share) => share <= 0 ? 0 : share >= 1 ? uint.MaxValue : (uint)(share * 4294967296.0);
}
