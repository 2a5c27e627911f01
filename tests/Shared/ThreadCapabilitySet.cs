using BpfSteer.Interop;

namespace BpfSteer.Testing;

/// <summary>
/// Changes the calling thread's effective capability set (capset; the permitted set stays, so <see cref="Restore"/>
/// can raise them again). The BPF verifier and bind paths check the calling thread's credentials, so a test can run one
/// call "without CAP_BPF" while the process stays root.
/// </summary>
internal static unsafe class ThreadCapabilitySet
{
    /// <summary>Sets this thread's effective set to <paramref name="effective"/>; returns the previous state.</summary>
    public static Libc.CapUserData[] SetEffective(ulong effective) => Change(_ => effective);

    /// <summary>Clears the given capability numbers from this thread's effective set; returns the previous state.</summary>
    public static Libc.CapUserData[] Drop(params int[] capabilities)
    {
        var mask = capabilities.Aggregate(0UL, (m, c) => m | (1UL << c));
        return Change(current => current & ~mask);
    }

    /// <summary>Puts back the state returned by <see cref="SetEffective"/> or <see cref="Drop"/>.</summary>
    public static void Restore(Libc.CapUserData[] saved)
    {
        var header = new Libc.CapUserHeader { Version = Libc.LinuxCapabilityVersion3 };
        fixed (Libc.CapUserData* d = saved)
        {
            Check(Libc.CapSet(&header, d), "capset (restore)");
        }
    }

    private static Libc.CapUserData[] Change(Func<ulong, ulong> effective)
    {
        var header = new Libc.CapUserHeader { Version = Libc.LinuxCapabilityVersion3 };
        var saved = new Libc.CapUserData[2];
        fixed (Libc.CapUserData* d = saved)
        {
            Check(Libc.CapGet(&header, d), "capget");
        }
        var value = effective(saved[0].Effective | ((ulong)saved[1].Effective << 32));
        var changed = new[] { saved[0], saved[1] };
        changed[0].Effective = (uint)value;
        changed[1].Effective = (uint)(value >> 32);
        header.Version = Libc.LinuxCapabilityVersion3;
        fixed (Libc.CapUserData* n = changed)
        {
            Check(Libc.CapSet(&header, n), "capset");
        }
        return saved;
    }

    private static void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new InvalidOperationException($"{call} failed: {PosixResult.FromErrno(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}");
        }
    }
}
