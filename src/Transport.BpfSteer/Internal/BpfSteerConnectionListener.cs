using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// One bound endpoint: a reuseport group with a member per worker, steered by the selector. Workers accept and hand
/// connections to Kestrel through a channel that <see cref="AcceptAsync"/> reads.
/// </summary>
internal sealed class BpfSteerConnectionListener : IConnectionListener
{
    private readonly IPEndPoint _requested;
    private readonly WorkerPool _pool;
    private readonly BpfSteerTransportOptions _options;
    private readonly BpfSteerTransportState _state;
    private readonly ILogger _logger;
    private readonly Channel<BpfSteerConnection> _accepted = Channel.CreateUnbounded<BpfSteerConnection>(
        new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
    private readonly SemaphoreSlim _unbindLock = new(1, 1);
    private ReuseportGroup? _group;
    private System.Net.Sockets.Socket? _balanced; // the member that carries the program, while the balancer re-attaches it
    private WorkerListener[] _members = [];
    private bool _unbound;
    private bool _disposed;

    public BpfSteerConnectionListener(IPEndPoint endPoint, WorkerPool pool, BpfSteerTransportOptions options, BpfSteerTransportState state, ILogger logger)
    {
        _requested = endPoint;
        _pool = pool;
        _options = options;
        _state = state;
        _logger = logger;
        EndPointText = endPoint.ToString();
    }

    public EndPoint EndPoint => _group?.EndPoint ?? _requested;

    internal string EndPointText { get; private set; }

    /// <summary>Creates the group, attaches the selector, then lets each worker poll its member.</summary>
    public async Task BindAsync()
    {
        var cpus = _pool.Cpus;
        var group = ReuseportGroup.Create(_requested, cpus, _options.Backlog, preferIncomingCpu: _options.Selector != ReuseportSelector.None);
        EndPointText = group.EndPoint.ToString();
        try
        {
            var (selector, detail) = AttachSelector(group, cpus);
            _group = group;
            _members = new WorkerListener[cpus.Count];
            for (var i = 0; i < cpus.Count; i++)
            {
                var member = new WorkerListener(_pool.Workers[i], group.Member(i), this, _options, _logger);
                _members[i] = member;
                await _pool.Workers[i].InvokeAsync(member.Register).ConfigureAwait(false);
                _pool.Workers[i].Faulted += OnWorkerFaulted;
            }
            _state.OnBound(EndPointText, selector, detail);
            BpfSteerLog.ListenerBound(_logger, EndPointText, cpus.Count, string.Join(",", cpus), selector);
        }
        catch
        {
            StopBalancing();
            _group = null;
            group.Dispose();
            throw;
        }
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (await _accepted.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_accepted.Reader.TryRead(out var connection))
            {
                return connection;
            }
        }
        return null;
    }

    /// <summary>Worker thread: a connection was accepted. After the listener closed, it is aborted instead.</summary>
    internal void Deliver(BpfSteerConnection connection)
    {
        if (!_accepted.Writer.TryWrite(connection))
        {
            connection.Abort(new ConnectionAbortedException("The listener was disposed."));
            _ = connection.DisposeAsync();
        }
    }

    /// <summary>
    /// Stops accepting. Members close one at a time, each on its own worker after that worker accepted what was queued;
    /// with tcp_migrate_req a connection that arrives meanwhile moves to a member still open, so none is reset.
    /// </summary>
    public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        await _unbindLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_unbound || _group is null)
            {
                return;
            }
            _unbound = true;
            StopBalancing();
            if (_group.DetachSelector())
            {
                BpfSteerLog.SelectorDetached(_logger, EndPointText);
            }
            for (var i = 0; i < _members.Length; i++)
            {
                var index = i;
                await _pool.Workers[i].InvokeAsync(() =>
                {
                    _members[index].DrainAndUnregister();
                    _group.CloseMember(index);
                }).ConfigureAwait(false);
            }
            foreach (var worker in _pool.Workers)
            {
                worker.Faulted -= OnWorkerFaulted;
            }
            _state.OnUnbound(EndPointText);
            _accepted.Writer.TryComplete();
        }
        finally
        {
            _unbindLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await UnbindAsync().ConfigureAwait(false);
        _accepted.Writer.TryComplete();
        // Accepted but never taken by Kestrel: close them, they have no owner.
        while (_accepted.Reader.TryRead(out var connection))
        {
            connection.Abort(new ConnectionAbortedException("The listener was disposed."));
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        _group?.Dispose();
        await _state.ReleaseWorkersAsync(_pool).ConfigureAwait(false);
    }

    /// <summary>
    /// On the dying worker's thread. Its member must leave the group (nobody accepts from it any more; with
    /// tcp_migrate_req its queue moves to a live member), and leaving reorders the group, so the cBPF program is
    /// detached first: selection falls back to the SO_INCOMING_CPU preference, which does not depend on order.
    /// </summary>
    private void OnWorkerFaulted(Worker worker, Exception error)
    {
        _unbindLock.Wait();
        try
        {
            if (_unbound || _group is null)
            {
                return;
            }
            StopBalancing();
            var detached = _group.DetachSelector();
            _group.CloseMember(worker.Index);
            _state.OnSelectorChanged(detached ? ReuseportSelector.None : _state.Selector, detached
                ? $"The worker on CPU {worker.Cpu} failed ({error.Message}); its listener left the group and the cBPF program was detached, " +
                  "so selection is by SO_INCOMING_CPU among the remaining workers."
                : $"The worker on CPU {worker.Cpu} failed ({error.Message}); its listener left the group; the selector keeps placing the other CPUs' connections.");
        }
        finally
        {
            _unbindLock.Release();
        }
    }

    /// <summary>Before the program is detached or the group changes: the balancer must not attach it again.</summary>
    private void StopBalancing()
    {
        if (_balanced is not null)
        {
            _pool.Balancer?.Remove(_balanced);
            _balanced = null;
        }
    }

    private (ReuseportSelector Selector, string Detail) AttachSelector(ReuseportGroup group, IReadOnlyList<int> cpus)
    {
        if (_options.Selector == ReuseportSelector.None)
        {
            return (ReuseportSelector.None, "Selector is None: plain reuseport hashing of the 4-tuple (the baseline).");
        }
        Exception error;
        if (_options.Selector == ReuseportSelector.Ebpf)
        {
            try
            {
                group.AttachEbpf(cpus);
                return (ReuseportSelector.Ebpf, $"eBPF sk_reuseport program (SELECT_OR_MIGRATE), CPU → worker → REUSEPORT_SOCKARRAY for CPUs [{string.Join(",", cpus)}].");
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                error = new InvalidOperationException(
                    $"The eBPF selector set in 'BpfSteer:Transport:Selector' could not be attached to {group.EndPoint}: {ex.Message} " +
                    "Grant the capability, choose Cbpf, or set 'BpfSteer:Transport:AllowSelectorFallback' to fall back to reuseport hashing.", ex);
            }
        }
        else
        {
            var attach = group.TryAttachCbpf(cpus);
            if (attach.IsSuccess)
            {
                if (_pool.Balancer is { } balancer)
                {
                    _balanced = group.Member(0);
                    balancer.Add(_balanced, cpus.ToArray());
                    return (ReuseportSelector.Cbpf, $"cBPF CPU → group index program for CPUs [{string.Join(",", cpus)}], with spill-over to an idle worker's CPU (SpillOver).");
                }
                return (ReuseportSelector.Cbpf, $"cBPF CPU → group index program for CPUs [{string.Join(",", cpus)}].");
            }
            error = BpfSteer.Interop.ErrnoMap.ToException(attach.Errno, "setsockopt(SO_ATTACH_REUSEPORT_CBPF)", "BpfSteer:Transport:Selector");
        }
        if (!_options.AllowSelectorFallback)
        {
            throw error;
        }
        BpfSteerLog.SelectorFallback(_logger, group.EndPoint.ToString(), error.Message);
        return (ReuseportSelector.None, $"{_options.Selector} attach failed, fell back to reuseport hashing (AllowSelectorFallback): " + error.Message);
    }
}
