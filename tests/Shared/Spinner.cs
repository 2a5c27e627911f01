namespace BpfSteer.Testing;

/// <summary>A thread pinned to one CPU that keeps it busy until disposed (a saturated CPU for the spill-over tests).</summary>
public sealed class Spinner : IDisposable
{
    private volatile bool _stop;
    private Task? _task;

    public static Spinner Start(int cpu)
    {
        var spinner = new Spinner();
        spinner._task = PinnedThread.RunAsync(cpu, () =>
        {
            while (!spinner._stop)
            {
            }
        });
        return spinner;
    }

    public void Dispose()
    {
        _stop = true;
        _task!.Wait(TimeSpan.FromSeconds(10));
    }
}
