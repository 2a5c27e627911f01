using static BpfSteer.Interop.Libc;

namespace BpfSteer.Interop;

/// <summary>sched_getaffinity / sched_setaffinity for the calling thread (pid 0), and sched_getcpu.</summary>
internal static unsafe class CpuAffinity
{
    /// <summary>The CPUs the calling thread may run on (honours cgroup cpusets and taskset).</summary>
    public static int[] GetCurrentThreadAffinity()
    {
        byte* mask = stackalloc byte[CpuSetBytes];
        new Span<byte>(mask, CpuSetBytes).Clear();
        int r;
        do { r = SchedGetAffinity(0, CpuSetBytes, mask); } while (NativeSocket.Interrupted(r));
        PosixResult.FromReturn(r).ThrowOnError("sched_getaffinity");
        var cpus = new List<int>();
        for (var i = 0; i < CpuSetBytes * 8; i++)
        {
            if ((mask[i / 8] & (1 << (i % 8))) != 0)
            {
                cpus.Add(i);
            }
        }
        return cpus.ToArray();
    }

    /// <summary>Pins the calling thread to <paramref name="cpus"/>.</summary>
    public static PosixResult TrySetCurrentThreadAffinity(ReadOnlySpan<int> cpus)
    {
        byte* mask = stackalloc byte[CpuSetBytes];
        new Span<byte>(mask, CpuSetBytes).Clear();
        foreach (var cpu in cpus)
        {
            if ((uint)cpu >= CpuSetBytes * 8)
            {
                return PosixResult.FromErrno(Errno.EINVAL);
            }
            mask[cpu / 8] |= (byte)(1 << (cpu % 8));
        }
        int r;
        do { r = SchedSetAffinity(0, CpuSetBytes, mask); } while (NativeSocket.Interrupted(r));
        return PosixResult.FromReturn(r);
    }

    public static void SetCurrentThreadAffinity(ReadOnlySpan<int> cpus)
        => TrySetCurrentThreadAffinity(cpus).ThrowOnError("sched_setaffinity");

    /// <summary>The CPU the calling thread runs on right now.</summary>
    public static int CurrentCpu() => SchedGetCpu();

    /// <summary>The kernel thread id of the caller (for logs and /proc lookups).</summary>
    public static int CurrentThreadId() => GetTid();
}
