using BpfSteer;
using BpfSteer.Interop;
using Microsoft.Extensions.Logging.Abstractions;
using Yarp.SockmapForwarder.DataPath.Sockmap;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>
/// Issue 5: the sockmap path must load without root, with CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON (the last for the
/// verdict's BTF reads: the peer's send queue and a retransmitted skb's sequence number, without which an overlapping
/// retransmission would be forwarded twice). The verifier and libbpf's kfunc resolution check the calling thread's
/// credentials, so the engine is created on a thread whose effective set is exactly those (capset), and the start-up
/// self-test (real sockets, 1 MiB byte-exact, a stalled reader that must park and resume under a 1 MiB bound) runs on it.
/// </summary>
[Collection(DataPathCollection.Name)]
public sealed class CapabilityTests
{
    private const int CapNetAdmin = 12;
    private const int CapPerfmon = 38;
    private const int CapBpf = 39;

    [Fact]
    public void Create_ThreadWithCapBpfNetAdminAndPerfmon_LoadsAndSelfTestPasses()
    {
        const ulong caps = (1UL << CapBpf) | (1UL << CapNetAdmin) | (1UL << CapPerfmon);
        var (effective, result, error) = OnThreadWith(caps, () =>
        {
            using var engine = SockmapEngine.Create(NullLogger.Instance, 4, SockmapForwarderOptions.DefaultKernelQueueBudget, KernelFeatures.Current.RedirectCpuKfunc.Available);
            return (engine.ProgramName, SockmapSelfTest.Run(engine));
        });

        Assert.Null(error);
        Assert.Equal(caps, effective);
        Assert.Equal(KernelFeatures.Current.RedirectCpuKfunc.Available ? "forward_verdict_cpu" : "forward_verdict", result.ProgramName);
        Assert.Null(result.Item2); // the self-test's failure text
    }

    [Fact]
    public void Create_ThreadWithoutCapPerfmon_FailsNamingIt()
    {
        var (_, _, error) = OnThreadWith((1UL << CapBpf) | (1UL << CapNetAdmin), () =>
        {
            using var engine = SockmapEngine.Create(NullLogger.Instance, 4, SockmapForwarderOptions.DefaultKernelQueueBudget, KernelFeatures.Current.RedirectCpuKfunc.Available);
            return (engine.ProgramName, (string?)null);
        });

        var ex = Assert.IsType<InvalidOperationException>(error);
        Assert.Contains("CAP_PERFMON", ex.Message);
    }

    /// <summary>Runs <paramref name="body"/> on a new thread whose effective set is <paramref name="caps"/>, then restores it.</summary>
    private static (ulong Effective, (string ProgramName, string?) Result, Exception? Error) OnThreadWith(ulong caps, Func<(string, string?)> body)
    {
        ulong effective = 0;
        (string, string?) result = default;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                var saved = ThreadCapabilitySet.SetEffective(caps);
                try
                {
                    effective = ThreadCapabilities.Effective();
                    result = body();
                }
                finally
                {
                    ThreadCapabilitySet.Restore(saved);
                }
            }
            catch (Exception ex)
            {
                error = ex;
            }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "engine creation and self-test did not finish in 60 s");
        return (effective, result, error);
    }
}
