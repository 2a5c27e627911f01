using BpfSteer.Interop;
using static BpfSteer.Interop.SockFilter;

namespace BpfSteer.Internal;

/// <summary>
/// Builds the classic BPF reuseport selector: "A = cpu; return index of the worker on that CPU". For workers on
/// CPUs 0..n-1 this is the seed's <c>A = cpu; A %= n; return A</c>. For any other CPU set (e.g. 3 and 7) it is a
/// jump table: each worker CPU returns its group index; any other CPU returns <c>n</c>, which is out of range, so
/// the kernel falls back to hash selection (no connection is lost).
/// </summary>
internal static class ReuseportCpuProgram
{
    /// <summary>The most workers a group can have: the program returns <c>n</c> for "no worker on this CPU", so n &lt; 256.</summary>
    public const int MaxWorkers = 255;

    /// <summary>The program for workers whose CPUs are <paramref name="workerCpus"/>, in group (listen) order.</summary>
    internal static SockFilter[] Build(IReadOnlyList<int> workerCpus)
    {
        if (workerCpus.Count == 0 || workerCpus.Count > MaxWorkers)
        {
            throw new ArgumentOutOfRangeException(nameof(workerCpus), $"A reuseport group needs 1 to {MaxWorkers} workers.");
        }
        var load = new SockFilter(BPF_LD | BPF_W | BPF_ABS, SKF_AD_CPU_OFFSET);
        var contiguous = true;
        for (var i = 0; i < workerCpus.Count; i++)
        {
            contiguous &= workerCpus[i] == i;
        }
        if (contiguous)
        {
            return [load, new SockFilter(BPF_ALU | BPF_MOD | BPF_K, (uint)workerCpus.Count), new SockFilter(BPF_RET | BPF_A, 0)];
        }

        // load; then per worker: "if A == cpu_i goto ret_i"; then "ret n"; then "ret i" for each i.
        var n = workerCpus.Count;
        var program = new List<SockFilter>(2 * n + 2) { load };
        const ushort jeqK = 0x05 | 0x10 | 0x00; // BPF_JMP | BPF_JEQ | BPF_K
        for (var i = 0; i < n; i++)
        {
            // Distance from the instruction after this jump to "ret i": the remaining compares, the fallback, then i returns.
            var jumpTrue = (n - 1 - i) + 1 + i;
            program.Add(new SockFilter(jeqK, (uint)workerCpus[i]) { JumpTrue = checked((byte)jumpTrue), JumpFalse = 0 });
        }
        program.Add(new SockFilter(BPF_RET | BPF_K, (uint)n));
        for (var i = 0; i < n; i++)
        {
            program.Add(new SockFilter(BPF_RET | BPF_K, (uint)i));
        }
        return program.ToArray();
    }
}
