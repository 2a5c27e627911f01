namespace BpfSteer;

/// <summary>
/// The BpfSteer transport's workers, registered in DI by <c>UseBpfSteeredTransport()</c>. Absent when the app does not
/// run on BpfSteer, which is how components that use workers fall back to their ordinary behaviour.
/// </summary>
public interface IWorkerLoopProvider
{
    /// <summary>The running workers in index order; empty before the first endpoint is bound and after the last is unbound.</summary>
    IReadOnlyList<IWorkerLoop> Loops { get; }

    /// <summary>The worker whose thread is calling, or <see langword="null"/> on any other thread.</summary>
    IWorkerLoop? Current { get; }
}
