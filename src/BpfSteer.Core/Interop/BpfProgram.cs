using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libbpf;

namespace BpfSteer.Interop;

/// <summary>Attach and detach programs to maps (sk_skb verdicts to a sockmap), and raw program loads for probes.</summary>
internal static unsafe class BpfProgram
{
    public static PosixResult TryAttach(SafeHandle program, SafeHandle map, int attachType)
    {
        var r = ProgAttach(program, map, attachType, 0);
        return r < 0 ? PosixResult.FromErrno(-r) : new PosixResult(r);
    }

    public static void Attach(SafeHandle program, SafeHandle map, int attachType, string what)
        => TryAttach(program, map, attachType).ThrowOnError($"bpf_prog_attach({what})");

    /// <summary>Loads raw eBPF instructions (8-byte encoded); returns an owned program fd or the errno.</summary>
    public static PosixResult TryLoadRaw(int progType, string name, ReadOnlySpan<ulong> instructions, out SafeFileDescriptorHandle? program)
    {
        fixed (ulong* insns = instructions)
        {
            var fd = ProgLoad(progType, name, "Dual BSD/GPL", insns, (nuint)instructions.Length, 0);
            program = fd >= 0 ? new SafeFileDescriptorHandle(fd, ownsHandle: true) : null;
            return fd < 0 ? PosixResult.FromErrno(-fd) : new PosixResult(fd);
        }
    }

    /// <summary>Number of possible CPUs: the per-CPU map value count.</summary>
    public static int PossibleCpus()
    {
        var n = NumPossibleCpus();
        BpfObject.CheckLibbpf(n, "libbpf_num_possible_cpus");
        return n;
    }
}
