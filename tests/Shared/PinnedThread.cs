using BpfSteer.Interop;

namespace BpfSteer.Testing;

/// <summary>Runs work on a dedicated thread pinned to one CPU (clients "on CPU n" for locality tests).</summary>
public static class PinnedThread
{
    public static Task<T> RunAsync<T>(int cpu, Func<T> work)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                CpuAffinity.SetCurrentThreadAffinity([cpu]);
                tcs.SetResult(work());
            }
            catch (Exception ex)
            {
                tcs.SetException(ex);
            }
        }) { IsBackground = true, Name = $"pinned-cpu{cpu}" };
        thread.Start();
        return tcs.Task;
    }

    public static Task RunAsync(int cpu, Action work) => RunAsync(cpu, () => { work(); return true; });
}
