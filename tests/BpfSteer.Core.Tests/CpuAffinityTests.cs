using BpfSteer.Interop;
using BpfSteer.Testing;

namespace BpfSteer.Core.Tests;

public class CpuAffinityTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task SetCurrentThreadAffinity_OneCpu_ReadBackAndRunsThere(int cpu)
    {
        var (mask, running) = await PinnedThread.RunAsync(cpu, () =>
        {
            Thread.Sleep(1); // give the scheduler a chance to migrate us
            return (CpuAffinity.GetCurrentThreadAffinity(), CpuAffinity.CurrentCpu());
        }).DefaultTimeout();

        Assert.Equal([cpu], mask);
        Assert.Equal(cpu, running);
    }

    [Fact]
    public void GetCurrentThreadAffinity_Process_ListsOnlineCpus()
    {
        var cpus = CpuAffinity.GetCurrentThreadAffinity();
        Assert.Equal(Enumerable.Range(0, Environment.ProcessorCount), cpus);
    }

    [Fact]
    public async Task TrySetCurrentThreadAffinity_CpuOutOfRange_ReturnsEinval()
    {
        var result = await PinnedThread.RunAsync(0, () => CpuAffinity.TrySetCurrentThreadAffinity([4096])).DefaultTimeout();
        Assert.Equal(Interop.Errno.EINVAL, result.Errno);
    }

    [Fact]
    public async Task SetCurrentThreadAffinity_OfflineCpu_ThrowsNamedError()
    {
        // CPU 1000 fits the mask but does not exist: the kernel says EINVAL, mapped to an IOException with strerror.
        var ex = await Assert.ThrowsAsync<NativeIOException>(() => PinnedThread.RunAsync(0, () => CpuAffinity.SetCurrentThreadAffinity([1000]))).DefaultTimeout();
        Assert.Equal(Interop.Errno.EINVAL, ex.Errno);
        Assert.Contains("sched_setaffinity", ex.Message);
        Assert.Contains("Invalid argument", ex.Message);
    }
}
