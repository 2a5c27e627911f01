using BpfSteer.Internal;
using BpfSteer.Interop;

namespace BpfSteer.Core.Tests;

/// <summary>The CPU selector with spill-over, interpreted the way the kernel runs a classic BPF program.</summary>
public class ReuseportSpillProgramTests
{
    [Fact]
    public void Build_NoSpill_EachCpuToItsMemberAndOthersOutOfRange()
    {
        var program = ReuseportSpillProgram.Build([3, 7], [new(0, 0), new(0, 1)]);
        Assert.Equal(0u, Run(program, cpu: 3, random: 0));
        Assert.Equal(1u, Run(program, cpu: 7, random: 0));
        Assert.Equal(2u, Run(program, cpu: 0, random: 0)); // no member: the kernel hashes
    }

    [Fact]
    public void Build_HalfSpill_RandomBelowTheThresholdGoesToTheTarget()
    {
        var program = ReuseportSpillProgram.Build([0, 1], [new(0.5, 1), new(0, 1)]);
        Assert.Equal(1u, Run(program, cpu: 0, random: 0));                // spilled
        Assert.Equal(1u, Run(program, cpu: 0, random: 0x7FFF_FFFF));      // just below half: spilled
        Assert.Equal(0u, Run(program, cpu: 0, random: 0x8000_0000));      // half and above: stays local
        Assert.Equal(0u, Run(program, cpu: 0, random: uint.MaxValue));
        Assert.Equal(1u, Run(program, cpu: 1, random: 0));                // CPU 1 does not spill
    }

    [Fact]
    public void Build_SharesOverManyMembers_JumpsLandOnTheirOwnBlocks()
    {
        int[] cpus = [0, 1, 2, 3];
        var program = ReuseportSpillProgram.Build(cpus, [new(1, 3), new(0, 1), new(1, 0), new(0, 3)]);
        Assert.Equal(3u, Run(program, cpu: 0, random: 12345));
        Assert.Equal(1u, Run(program, cpu: 1, random: 12345));
        Assert.Equal(0u, Run(program, cpu: 2, random: 12345));
        Assert.Equal(3u, Run(program, cpu: 3, random: 12345));
    }

    [Fact]
    public void Build_WrongSpillCount_Throws()
        => Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportSpillProgram.Build([0, 1], [new(0, 0)]));

    private static uint Run(SockFilter[] program, uint cpu, uint random)
    {
        uint a = 0;
        for (var pc = 0; pc < program.Length; pc++)
        {
            var i = program[pc];
            switch (i.Code)
            {
                case SockFilter.BPF_LD | SockFilter.BPF_W | SockFilter.BPF_ABS:
                    a = i.K == SockFilter.SKF_AD_CPU_OFFSET ? cpu : i.K == ReuseportSpillProgram.SKF_AD_RANDOM_OFFSET ? random : throw new InvalidOperationException("unknown load");
                    break;
                case 0x15: pc += a == i.K ? i.JumpTrue : i.JumpFalse; break; // JMP|JEQ|K
                case 0x35: pc += a >= i.K ? i.JumpTrue : i.JumpFalse; break; // JMP|JGE|K
                case SockFilter.BPF_RET | SockFilter.BPF_K: return i.K;
                default: throw new InvalidOperationException($"unexpected opcode {i.Code:x}");
            }
        }
        throw new InvalidOperationException("fell off the end");
    }
}
