namespace BpfSteer.Transport;

/// <summary>How a new connection picks the worker (reuseport group member) that accepts it.</summary>
public enum ReuseportSelector
{
    /// <summary>
    /// A classic BPF program attached to the group returns the index of the worker pinned to the CPU that received the
    /// SYN, so the connection is accepted and served on that CPU.
    /// </summary>
    Cbpf,

    /// <summary>
    /// No program: the kernel hashes the 4-tuple, preferring a listener whose SO_INCOMING_CPU equals the receiving CPU.
    /// Use it to measure the baseline.
    /// </summary>
    None,
}
