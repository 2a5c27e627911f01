namespace Transport.BpfSteer.Tests;

/// <summary>Tests that pin CPUs, measure locality, load the machine or change process-wide state run alone.</summary>
[CollectionDefinition(nameof(CpuBoundCollection), DisableParallelization = true)]
public sealed class CpuBoundCollection;
