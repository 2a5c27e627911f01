namespace BpfSteer.Transport;

/// <summary>
/// Options for the BpfSteer transport. Bound from the configuration section <c>BpfSteer:Transport</c> by
/// <c>UseBpfSteeredTransport()</c>; a delegate passed to it runs after the binding.
/// </summary>
public sealed class BpfSteerTransportOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "BpfSteer:Transport";

    /// <summary>
    /// The CPUs to run workers on, one pinned worker thread (and one reuseport listener per endpoint) per CPU, in this
    /// order; the order is the reuseport group order. Every CPU must be in the process's affinity mask.
    /// </summary>
    /// <remarks>Defaults to <see langword="null"/>: every CPU of the process affinity mask (sched_getaffinity, which
    /// honours taskset and cgroup cpusets), ascending.</remarks>
    public IList<int>? Cpus { get; set; }

    /// <summary>How a new connection is steered to a worker.</summary>
    /// <remarks>Defaults to <see cref="ReuseportSelector.Cbpf"/>.</remarks>
    public ReuseportSelector Selector { get; set; } = ReuseportSelector.Cbpf;

    /// <summary>
    /// With the <see cref="ReuseportSelector.Cbpf"/> selector: when the CPU that receives new connections has no idle
    /// time left while another worker's CPU waits for work (all clients behind one NIC receive queue, or on loopback
    /// behind one client's CPU), a share of that CPU's new connections goes to the idlest worker instead, re-judged
    /// every 200 ms from each CPU's idle time and given back as the load evens out. The selector then draws each
    /// connection's worker in the kernel; an accepted connection never moves between workers. The current shares are
    /// in <see cref="BpfSteerWorkerStatus.SpillShare"/>. Has no effect with the other selectors or a single worker.
    /// </summary>
    /// <remarks>Defaults to <see langword="true"/> (measured: README, "Spill-over").</remarks>
    public bool SpillOver { get; set; } = true;

    /// <summary>
    /// When attaching the selector fails (e.g. missing CAP_NET_ADMIN), log a warning and continue with plain reuseport
    /// hashing instead of failing the bind.
    /// </summary>
    /// <remarks>Defaults to <see langword="false"/>: a failed attach fails the bind with an error naming the cause.</remarks>
    public bool AllowSelectorFallback { get; set; }

    /// <summary>The listen() backlog of each worker's listener.</summary>
    /// <remarks>Defaults to 512, as Kestrel's Sockets transport.</remarks>
    public int Backlog { get; set; } = 512;

    /// <summary>Sets TCP_NODELAY on every accepted connection.</summary>
    /// <remarks>Defaults to <see langword="true"/>.</remarks>
    public bool NoDelay { get; set; } = true;

    /// <summary>
    /// Bytes received but not yet consumed by the application after which the worker stops reading the socket
    /// (TCP flow control pushes back on the peer). 0 means no limit.
    /// </summary>
    /// <remarks>Defaults to 1 MiB, as Kestrel's Sockets transport.</remarks>
    public long? MaxReadBufferSize { get; set; } = 1024 * 1024;

    /// <summary>Bytes written by the application but not yet sent after which its flushes wait. 0 means no limit.</summary>
    /// <remarks>Defaults to 64 KiB, as Kestrel's Sockets transport.</remarks>
    public long? MaxWriteBufferSize { get; set; } = 64 * 1024;

    /// <summary>
    /// Where application continuations run: inline on the connection's worker, or on the thread pool. Inline keeps a
    /// request on the CPU that received it and skips two thread hand-offs per request; application code must then never
    /// block (a blocked worker is logged as WorkerBlocked, event 29). Use ThreadPool for apps with blocking code.
    /// </summary>
    /// <remarks>Defaults to <see cref="ApplicationScheduling.Inline"/> (measured: README, "Scheduling").</remarks>
    public ApplicationScheduling ApplicationScheduling { get; set; } = ApplicationScheduling.Inline;

    /// <summary>
    /// How long a worker that runs out of events keeps polling its sockets (yielding the CPU to any other runnable thread
    /// between polls) before it sleeps in epoll_wait. A request or reply that arrives within this time is taken without
    /// waking a sleeping thread, which at low concurrency is a large part of each request's latency; the price is CPU
    /// time that would otherwise be idle. <see cref="TimeSpan.Zero"/> turns it off. At most 1 ms.
    /// How often it pays off is in <see cref="BpfSteerWorkerStatus.IdleSpinHits"/> and <see cref="BpfSteerWorkerStatus.IdleSleeps"/>.
    /// </summary>
    /// <remarks>Defaults to 50 µs (measured: README, "Idle spin"; docs/design.md, "Event loops: idle spin").</remarks>
    public TimeSpan IdleSpin { get; set; } = TimeSpan.FromMicroseconds(50);

    /// <summary>
    /// While a listener is bound, keep <c>net.ipv4.tcp_migrate_req</c> at 1 (when it is 0 and the process may write it),
    /// so connections waiting in the accept queue of a closing group member move to another member instead of being
    /// reset; the previous value is restored when the last listener is disposed.
    /// </summary>
    /// <remarks>Defaults to <see langword="true"/>.</remarks>
    public bool MigrateQueuedConnections { get; set; } = true;
}
