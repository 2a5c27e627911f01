namespace BpfSteer.Transport;

/// <summary>How a new connection picks the worker (reuseport group member) that accepts it.</summary>
public enum ReuseportSelector
{
    /// <summary>
    /// A classic BPF program attached to the group returns the index of the worker pinned to the CPU that received the
    /// SYN, so the connection is accepted and served on that CPU. Each listener also carries SO_INCOMING_CPU, which
    /// keeps selection by CPU (independently of group order) if the program has to be detached.
    /// </summary>
    Cbpf,

    /// <summary>
    /// No program and no SO_INCOMING_CPU on the listeners: the kernel hashes the 4-tuple, as plain SO_REUSEPORT.
    /// Use it to measure the baseline.
    /// </summary>
    None,

    /// <summary>
    /// An eBPF <c>sk_reuseport</c> program selects, from a REUSEPORT_SOCKARRAY keyed by worker, the listener of the
    /// worker on the receiving CPU. Independent of group order, and attached as SELECT_OR_MIGRATE, so a closing
    /// listener's queued connections are migrated without net.ipv4.tcp_migrate_req. Needs CAP_BPF.
    /// </summary>
    Ebpf,
}
