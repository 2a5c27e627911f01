using System.Net.Sockets;
using System.Runtime.InteropServices;
using BpfSteer.Interop;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// The eBPF selector of one reuseport group (bpf/reuseport_select.bpf.c): CPU → worker index in an array map,
/// worker index → listener in a REUSEPORT_SOCKARRAY, attached as SELECT_OR_MIGRATE. Keyed explicitly, so a member
/// that closes does not shift the others; a closing member's queue is migrated by the program.
/// </summary>
internal sealed class EbpfReuseportSelector : IDisposable
{
    private const string ObjectName = "reuseport_select.bpf";
    private const string ProgramName = "select_by_cpu";

    private readonly BpfObject _object;

    private EbpfReuseportSelector(BpfObject bpf) => _object = bpf;

    /// <summary>Loads the program, fills both maps for <paramref name="members"/> (group order) and attaches it.</summary>
    public static EbpfReuseportSelector Attach(IReadOnlyList<Socket> members, IReadOnlyList<int> cpus)
    {
        var bpf = BpfObject.OpenEmbedded(typeof(EbpfReuseportSelector).Assembly, ObjectName);
        try
        {
            bpf.Load();
            var cpuToWorker = bpf.Map("cpu_to_worker");
            var workers = bpf.Map("workers");
            for (var i = 0; i < members.Count; i++)
            {
                cpuToWorker.Update((uint)cpus[i], (uint)(i + 1));
                workers.TryInsertSocket((uint)i, members[i].SafeHandle).ThrowOnError("bpf_map_update_elem(workers)", "BpfSteer:Transport:Selector");
            }
            var program = bpf.ProgramFd(ProgramName);
            NativeSocket.TryAttachReuseportEbpf(members[0].SafeHandle, program.Fd)
                .ThrowOnError("setsockopt(SO_ATTACH_REUSEPORT_EBPF)", "BpfSteer:Transport:Selector");
            return new EbpfReuseportSelector(bpf);
        }
        catch
        {
            bpf.Dispose();
            throw;
        }
    }

    /// <summary>Placement counters summed over CPUs: selected by CPU, hash fallback, migrated from a closing member.</summary>
    public (ulong Selected, ulong Fallback, ulong Migrated) ReadStats()
    {
        var cpus = BpfProgram.PossibleCpus();
        var raw = new byte[cpus * Marshal.SizeOf<Stats>()];
        if (!_object.Map("stats").TryLookupRaw(0u, raw))
        {
            return default;
        }
        var all = MemoryMarshal.Cast<byte, Stats>(raw);
        ulong selected = 0, fallback = 0, migrated = 0;
        foreach (var s in all)
        {
            selected += s.Selected;
            fallback += s.Fallback;
            migrated += s.Migrated;
        }
        return (selected, fallback, migrated);
    }

    public void Dispose() => _object.Dispose();

    /// <summary>struct reuseport_select_stats (bpf/reuseport_select.h); per-CPU values are 8-byte aligned.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Stats
    {
        public ulong Selected;
        public ulong Fallback;
        public ulong Migrated;
    }
}
