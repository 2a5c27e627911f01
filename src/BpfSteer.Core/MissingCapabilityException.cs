namespace BpfSteer;

/// <summary>
/// The kernel refused an operation (EPERM/EACCES) because the process lacks a capability.
/// <see cref="Capability"/> names it, e.g. <c>CAP_BPF</c>.
/// </summary>
public sealed class MissingCapabilityException : UnauthorizedAccessException
{
    public MissingCapabilityException(string capability, string message) : base(message) => Capability = capability;

    /// <summary>The missing capability, as in capabilities(7).</summary>
    public string Capability { get; }
}
