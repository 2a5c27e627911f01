using System.Runtime.InteropServices;
using BpfSteer.Interop;
using BpfSteer.Internal;
using Microsoft.Extensions.Logging;
using static BpfSteer.Interop.Libbpf;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.DataPath.Sockmap;

/// <summary>
/// The in-kernel path: one loaded BPF object (bpf/sockmap_forward.bpf.c), its maps, and ONE <see cref="EventLoop"/>
/// that watches every sockmap connection, edge-triggered, for end of stream, errors, parked bytes (EPOLLIN; redirected
/// bytes do not make a socket readable) and room on a destination (EPOLLOUT), see docs/design.md,
/// "Sockmap: watching sockets with epoll". It also runs the per-connection ticks (half-close barrier, parked bytes,
/// idle timeout): every 1 ms while a connection waits for one, else every 10 ms. Sockets enter the maps in
/// <see cref="SockmapConnection.Insert"/> and leave them in <see cref="SockmapConnection.Finish"/>.
/// </summary>
internal sealed unsafe class SockmapEngine : EventLoop, IDisposable
{
    /// <summary>The object without the kfunc: forward_verdict.</summary>
    public const string ObjectName = "sockmap_forward.bpf";

    /// <summary>
    /// The same source built with -DBPFSTEER_REDIRECT_CPU: adds forward_verdict_cpu and the kfunc extern. Opened only
    /// where the kfunc exists, because libbpf resolves a kfunc extern at load even for a program that is not loaded,
    /// and a kfunc missing from vmlinux BTF makes it search module BTF, which needs CAP_SYS_ADMIN.
    /// </summary>
    public const string RedirectCpuObjectName = "sockmap_forward_cpu.bpf";
    private const int HotTickMs = 1;
    private const int IdleTickMs = 10;

    private readonly BpfObject _object;
    private readonly MappedBpfArray _slots;
    private readonly MappedBpfArray _budget;
    private readonly Queue<int> _free = new();
    private readonly SockmapConnection?[] _byIndex;
    private readonly List<SockmapConnection> _active = new();
    private int _count;
    private long _nextRefresh;
    private const int BudgetRefreshMs = 20;

    private SockmapEngine(BpfObject obj, int capacity, long budgetBytes, string program, ILogger logger)
        : base("sockmap-forwarder", cpu: null)
    {
        _object = obj;
        Capacity = capacity;
        ProgramName = program;
        Logger = logger;
        ProgramMap = obj.Map("sock_ops_map");
        RedirectMap = obj.Map("redirect_map");
        Conns = obj.Map("conns");
        RouteStatsMap = obj.Map("route_stats");
        _slots = MappedBpfArray.Map(obj.Map("slots"), sizeof(ConnSlot), capacity * 2);
        _budget = MappedBpfArray.Map(obj.Map("budget"), sizeof(Budget), 1);
        Budget->Limit = (ulong)budgetBytes;
        _byIndex = new SockmapConnection?[capacity];
        for (var i = 0; i < capacity; i++)
        {
            _free.Enqueue(i);
        }
        PossibleCpus = BpfProgram.PossibleCpus();
        TickInterval = IdleTickMs;
        _ = StartAsync(); // unpinned: it cannot fail
    }

    /// <summary>Connections the maps can hold (each uses two sockets, two slots).</summary>
    public int Capacity { get; }

    /// <summary>The verdict program attached: forward_verdict, or forward_verdict_cpu when the kfunc exists.</summary>
    public string ProgramName { get; }

    public int PossibleCpus { get; }

    public ILogger Logger { get; }

    public BpfMap ProgramMap { get; }

    public BpfMap RedirectMap { get; }

    public BpfMap Conns { get; }

    public BpfMap RouteStatsMap { get; }

    public int ActiveConnections => Volatile.Read(ref _count);

    /// <summary>
    /// Opens, sizes, loads and attaches the embedded object. Throws when the kernel or process cannot. The verifier
    /// checks the capabilities of the calling thread, so the program is chosen from this thread's effective set.
    /// </summary>
    public static SockmapEngine Create(ILogger logger, int capacity, long budgetBytes, bool redirectCpuKfunc)
    {
        if (!ThreadCapabilities.HasPerfmon())
        {
            // The verifier allows the verdict's BTF reads (the peer's send queue, a retransmission's sequence number)
            // only with it; a verdict without them would forward an overlapping retransmission's head twice.
            throw new InvalidOperationException("the sockmap verdict needs CAP_PERFMON (or CAP_SYS_ADMIN) on the loading thread: " +
                "without its kernel reads a retransmission that overlaps received bytes would be forwarded twice");
        }
        var program = redirectCpuKfunc ? "forward_verdict_cpu" : "forward_verdict";
        string[] programs = redirectCpuKfunc ? ["forward_verdict", "forward_verdict_cpu"] : ["forward_verdict"];
        var obj = BpfObject.OpenEmbedded(typeof(SockmapEngine).Assembly, redirectCpuKfunc ? RedirectCpuObjectName : ObjectName);
        try
        {
            var sockets = (uint)capacity * 2;
            obj.SetMaxEntries("sock_ops_map", sockets);
            obj.SetMaxEntries("redirect_map", sockets);
            obj.SetMaxEntries("conns", sockets);
            obj.SetMaxEntries("slots", sockets);
            foreach (var p in programs)
            {
                // Only the attached program is loaded: verifying the other would be wasted work.
                obj.SetAutoload(p, p == program);
            }
            obj.Load();
            BpfProgram.Attach(obj.ProgramFd(program), obj.Map("sock_ops_map").Fd, BPF_SK_SKB_STREAM_VERDICT, program);
            return new SockmapEngine(obj, capacity, budgetBytes, program, logger);
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    public ConnSlot* Slot(int slot) => _slots.Element<ConnSlot>(slot);

    /// <summary>Per route: bytes held outside socket accounting, their peak, parked connections (tick-sampled).</summary>
    public KernelQueueSampler Queue { get; } = new();

    /// <summary>The process budget's use, peak, limit and budget parks (racy snapshot).</summary>
    public KernelQueueStatus KernelQueue
    {
        get
        {
            var b = Budget;
            var used = (long)Volatile.Read(ref b->Used);
            return new KernelQueueStatus(Math.Max(used, 0), (long)Volatile.Read(ref b->Peak), (long)b->Limit, (long)Volatile.Read(ref b->Parks));
        }
    }

    /// <summary>The process-wide budget of unaccounted kernel memory (bytes redirected, not yet in a send queue).</summary>
    public Budget* Budget => _budget.Element<Budget>(0);

    /// <summary>Sets this direction's share of the budget to <paramref name="backlog"/> (any thread; the verdict does the same).</summary>
    public void Account(ConnSlot* slot, ulong backlog)
    {
        // The share is AcctK - AcctU; user space writes only AcctU (the verdict only AcctK), see account() in the BPF source.
        var next = unchecked(Volatile.Read(ref slot->AcctK) - backlog);
        var delta = unchecked(next - slot->AcctU);
        if (delta != 0)
        {
            Volatile.Write(ref slot->AcctU, next);
            Interlocked.Add(ref Budget->Used, unchecked(0 - delta));
        }
    }

    /// <summary>This direction's current share of the budget.</summary>
    public static ulong Share(ConnSlot* slot) => unchecked(Volatile.Read(ref slot->AcctK) - Volatile.Read(ref slot->AcctU));

    /// <summary>Takes a free connection index (slots 2i and 2i+1); false when the maps are full.</summary>
    public bool TryAllocate(out int index)
    {
        lock (_free)
        {
            // FIFO reuse: an index comes back only after every other free one, far from any late verdict run.
            return _free.TryDequeue(out index);
        }
    }

    public void Release(int index)
    {
        lock (_free)
        {
            _free.Enqueue(index);
        }
    }

    /// <summary>Hands a paired connection to the loop thread.</summary>
    public void Start(SockmapConnection connection)
    {
        Interlocked.Increment(ref _count);
        Schedule(static s =>
        {
            var c = (SockmapConnection)s!;
            c.Engine.Attach(c);
        }, connection);
    }

    public void Abort(SockmapConnection connection)
        => Schedule(static c => ((SockmapConnection)c!).Finish(CloseReason.Aborted, resetBoth: true), connection);

    public ulong Watch(SafeHandle socket, IEventLoopHandler side) => Register(socket, EPOLLRDHUP | EPOLLIN | EPOLLOUT | EPOLLET, side);

    public void Unwatch(SafeHandle socket, ulong token) => Unregister(socket, token);

    /// <summary>Sums the per-CPU route counters: bytes by direction, verdict runs per CPU by direction, parked bytes, failed redirects.</summary>
    public RouteTotals ReadRoute(int route)
    {
        var size = sizeof(RouteStats);
        var buffer = new byte[PossibleCpus * size];
        var v0 = new long[PossibleCpus];
        var v1 = new long[PossibleCpus];
        long c2b = 0, b2c = 0, passed = 0, failed = 0;
        if (RouteStatsMap.TryLookupRaw((uint)route, buffer))
        {
            for (var cpu = 0; cpu < PossibleCpus; cpu++)
            {
                var s = MemoryMarshal.Read<RouteStats>(buffer.AsSpan(cpu * size));
                c2b += (long)s.BytesClientToBackend;
                b2c += (long)s.BytesBackendToClient;
                passed += (long)s.Passed;
                failed += (long)s.RedirectFailed;
                v0[cpu] = (long)s.VerdictsClientToBackend;
                v1[cpu] = (long)s.VerdictsBackendToClient;
            }
        }
        return new RouteTotals(c2b, b2c, v0, v1, passed, failed);
    }

    private void Attach(SockmapConnection connection)
    {
        if (!IsCurrentThread)
        {
            // The loop died before it took the connection (this runs on the thread pool): nothing would forward it.
            connection.Finish(CloseReason.Aborted, resetBoth: true);
            Interlocked.Decrement(ref _count);
            return;
        }
        _byIndex[connection.Index] = connection;
        _active.Add(connection);
        connection.Attach();
    }

    protected override void OnTick(long now)
    {
        var hot = false;
        for (var i = 0; i < _active.Count; i++)
        {
            hot |= _active[i].Tick(now);
        }
        _active.RemoveAll(Forget);
        TickInterval = hot ? HotTickMs : IdleTickMs;
        Queue.Sample(_active, now);
        var budget = Budget;
        if (budget->Limit != 0 && Volatile.Read(ref budget->Used) >= budget->Limit / 2 && now >= _nextRefresh)
        {
            // Under pressure, a direction whose verdict no longer runs (its source paused) would keep the share it
            // had at its last run: measure them, so the budget holds what is really queued.
            _nextRefresh = now + BudgetRefreshMs;
            foreach (var c in _active)
            {
                c.RefreshAccounting();
            }
        }
    }

    protected override void OnStopped() => AbortAll();

    protected override void OnFaulted(Exception error)
    {
        DataPathLog.LoopFailed(Logger, "sockmap-forwarder", error);
        AbortAll();
    }

    protected override void OnHandlerFailed(Exception error) => DataPathLog.LoopHandlerFailed(Logger, "sockmap-forwarder", error);

    private void AbortAll()
    {
        foreach (var c in _active)
        {
            c.Finish(CloseReason.Aborted, resetBoth: true);
        }
    }

    private bool Forget(SockmapConnection c)
    {
        if (!c.IsFinished)
        {
            return false;
        }
        if (_byIndex[c.Index] == c)
        {
            _byIndex[c.Index] = null;
        }
        Interlocked.Decrement(ref _count);
        return true;
    }

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(5));
        _slots.Dispose();
        _budget.Dispose();
        _object.Dispose();
    }
}
