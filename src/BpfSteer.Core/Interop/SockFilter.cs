using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

/// <summary>struct sock_filter (8 bytes): one classic BPF instruction.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SockFilter
{
    public ushort Code;
    public byte JumpTrue;
    public byte JumpFalse;
    public uint K;

    public SockFilter(ushort code, uint k)
    {
        Code = code;
        K = k;
    }

    // Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
    public const ushort BPF_LD = 0x00, BPF_ALU = 0x04, BPF_RET = 0x06;
    public const ushort BPF_W = 0x00, BPF_ABS = 0x20, BPF_MOD = 0x90, BPF_K = 0x00, BPF_A = 0x10;

    /// <summary>SKF_AD_OFF + SKF_AD_CPU: the "load current CPU" ancillary offset.</summary>
    public const uint SKF_AD_CPU_OFFSET = unchecked(0xfffff000u + 36u);
}

/// <summary>struct sock_fprog (16 bytes on 64-bit): {u16 len; pad; struct sock_filter *filter}.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockFprog
{
    public ushort Length;
    public SockFilter* Filter;
}
