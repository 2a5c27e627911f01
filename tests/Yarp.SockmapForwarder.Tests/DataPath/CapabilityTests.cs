using BpfSteer;
using BpfSteer.Interop;
using Microsoft.Extensions.Logging.Abstractions;
using Yarp.SockmapForwarder.DataPath.Sockmap;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>
/// Issue 5: the sockmap path must load with CAP_BPF + CAP_NET_ADMIN only. The verifier and libbpf's kfunc resolution
/// check the calling thread's credentials, so the engine is created on a thread whose effective set is exactly those
/// two (capset), and the start-up self-test (real sockets, 1 MiB byte-exact, a stalled reader that must park and
/// resume under a 1 MiB bound) runs on it.
/// </summary>
[Collection(DataPathCollection.Name)]
public sealed class CapabilityTests
{
    private const int CapNetAdmin = 12;
    private const int CapBpf = 39;

    [Fact]
    public void Create_ThreadWithOnlyCapBpfAndCapNetAdmin_LoadsPolledVerdictAndSelfTestPasses()
    {
        (ulong Effective, string Program, bool Measures, string? SelfTest)? seen = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                var saved = SetEffective((1UL << CapBpf) | (1UL << CapNetAdmin));
                try
                {
                    var effective = ThreadCapabilities.Effective();
                    using var engine = SockmapEngine.Create(NullLogger.Instance, 4, KernelFeatures.Current.RedirectCpuKfunc.Available);
                    seen = (effective, engine.ProgramName, engine.MeasuresInVerdict, SockmapSelfTest.Run(engine));
                }
                finally
                {
                    Restore(saved);
                }
            }
            catch (Exception ex)
            {
                error = ex;
            }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "engine creation and self-test did not finish in 60 s");

        Assert.Null(error);
        Assert.NotNull(seen);
        Assert.Equal((1UL << CapBpf) | (1UL << CapNetAdmin), seen.Value.Effective);
        Assert.EndsWith("_polled", seen.Value.Program);
        Assert.False(seen.Value.Measures); // and so no retransmission cut (SockmapEngine.CutsRetransmissions)
        Assert.Null(seen.Value.SelfTest);
    }

    [Fact]
    public void Create_Root_VerdictMeasuresItself()
    {
        using var engine = SockmapEngine.Create(NullLogger.Instance, 4, KernelFeatures.Current.RedirectCpuKfunc.Available);

        Assert.True(engine.MeasuresInVerdict);
        Assert.Equal(KernelFeatures.Current.RedirectCpuKfunc.Available ? "forward_verdict_cpu" : "forward_verdict", engine.ProgramName);
    }

    /// <summary>Sets this thread's effective set (permitted stays, so <see cref="Restore"/> can raise it again).</summary>
    private static unsafe Libc.CapUserData[] SetEffective(ulong effective)
    {
        var header = new Libc.CapUserHeader { Version = Libc.LinuxCapabilityVersion3 };
        var saved = new Libc.CapUserData[2];
        fixed (Libc.CapUserData* d = saved)
        {
            Assert.Equal(0, Libc.CapGet(&header, d));
        }
        var changed = new[] { saved[0], saved[1] };
        changed[0].Effective = (uint)effective;
        changed[1].Effective = (uint)(effective >> 32);
        fixed (Libc.CapUserData* n = changed)
        {
            header.Version = Libc.LinuxCapabilityVersion3;
            Assert.Equal(0, Libc.CapSet(&header, n));
        }
        return saved;
    }

    private static unsafe void Restore(Libc.CapUserData[] saved)
    {
        var header = new Libc.CapUserHeader { Version = Libc.LinuxCapabilityVersion3 };
        fixed (Libc.CapUserData* d = saved)
        {
            Assert.Equal(0, Libc.CapSet(&header, d));
        }
    }
}
