namespace BpfSteer;

/// <summary>One probed kernel feature: whether it works here, and what was tried (and why it failed).</summary>
/// <param name="Name">Stable name, e.g. <c>sockmap</c>; used as the JSON key in status output.</param>
/// <param name="Available">Whether the feature works for this process on this kernel.</param>
/// <param name="Detail">What was tried and its result; when unavailable, the reason and the fix.</param>
public sealed record KernelFeature(string Name, bool Available, string Detail);
