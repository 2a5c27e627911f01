using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Moving a relayed connection to another CPU's loop (<see cref="TcpRouteLoop.MoveShare"/>). The selector places each
/// connection once, when it arrives, by the spill share of that moment; a burst of long-lived connections (a client
/// pool opening 50 keep-alive connections at start) all lands where the share pointed then, and stays there. When the
/// balancer later finds that CPU saturated while another waits, it moves a share of the relayed connections too.
/// </summary>
/// <remarks>
/// A move is lossless by construction: the relay object travels whole (bytes it holds, its pipes, its half-close state),
/// and the sockets keep their kernel queues; only their epoll registrations change. The old loop unregisters both
/// sockets and queues the connection to the new loop, which registers them again: an edge-triggered registration
/// reports what is pending at that moment (as when a declined promotion registers them again), so no arrival between
/// the two loops is missed. While queued, the connection is on neither loop's list, so neither loop's tick or abort
/// touches it; the new loop always runs it: no move starts once disposal has begun, a loop drains its queue before it
/// stops and runs the stop's abort after, and a loop that has died is never a target.
/// </remarks>
internal sealed partial class TcpRouteConnection
{
    /// <summary>True when <see cref="TryMoveTo"/> would move this connection: relayed, and its route not pinned to a CPU.</summary>
    public bool IsMovable => _state == State.Relaying && !_relay!.IsFinished && _config.Cpu is null;

    /// <summary>
    /// Loop thread (the current loop): leaves this loop for <paramref name="target"/>, which adopts it once it runs its
    /// queue. False (and nothing changed) when the connection is not <see cref="IsMovable"/>.
    /// </summary>
    public bool TryMoveTo(TcpRouteLoop target)
    {
        if (!IsMovable || target == _loop)
        {
            return false;
        }
        _loop.Unregister(_client, _clientToken);
        _loop.Unregister(_backend!, _backendToken);
        _clientToken = _backendToken = 0; // tokens of the old loop's table mean nothing (or someone else) in the new one
        _loop.Remove(this);
        _state = State.Moving;
        _loop = target;
        target.Schedule(static s => ((TcpRouteConnection)s!).Adopt(), this);
        return true;
    }

    /// <summary>The new loop takes the connection: registers both sockets; their current readiness restarts the relay.</summary>
    private void Adopt()
    {
        _state = State.Relaying;
        if (!_loop.IsCurrentThread)
        {
            // The new loop died meanwhile (its queued work runs on the thread pool): nothing could run this relay any more.
            _relay!.Abort();
            Complete(DataPathKind.UserSpace);
            return;
        }
        _loop.Add(this);
        try
        {
            _clientToken = _loop.Register(_client, Events, _clientSide);
            _backendToken = _loop.Register(_backend!, Events, _backendSide!);
        }
        catch (Exception)
        {
            _relay!.Abort(); // ENOMEM from epoll_ctl: reset both sides rather than leave a connection no loop serves
            Complete(DataPathKind.UserSpace);
        }
    }
}
