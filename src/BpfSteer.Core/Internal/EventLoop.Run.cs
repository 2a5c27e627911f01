using System.Diagnostics;
using BpfSteer.Interop;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Internal;

/// <summary>The loop: run queued work, wait for events, dispatch them, tick; until stopped or epoll fails.</summary>
internal abstract partial class EventLoop
{
    private void Run()
    {
        if (_cpu is int cpu)
        {
            var pinned = CpuAffinity.TrySetCurrentThreadAffinity([cpu]);
            if (!pinned.IsSuccess && OnPinningFailed(cpu, pinned) is { } error)
            {
                _started.TrySetException(error);
                _epoll.Dispose();
                _stopped.TrySetResult();
                return;
            }
        }
        _started.TrySetResult();
        var events = new EpollEvent[MaxEvents];
        try
        {
            Guard(static l => l.OnStarted());
            _nextTick = Environment.TickCount64 + Math.Max(_tickInterval, 0);
            while (!_stopping)
            {
                RunQueued();
                if (_stopping)
                {
                    break;
                }
                var n = _queue.IsEmpty ? WaitIdle(events) : _epoll.Wait(events, 0);
                for (var i = 0; i < n; i++)
                {
                    Dispatch(events[i]);
                }
                if (_tickInterval >= 0)
                {
                    Tick();
                }
            }
            RunQueued();
            Guard(static l => l.OnStopped());
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        finally
        {
            _epoll.Dispose();
            _stopped.TrySetResult();
        }
    }

    /// <summary>
    /// Waits for events with nothing queued. Without an idle spin this is one epoll_wait until the next tick. With one,
    /// a loop that finds no event polls again (yielding the CPU to other runnable threads between polls) for up to
    /// <see cref="IdleSpin"/> before it sleeps: a reply that comes back within that time is taken without the wake-up
    /// of a sleeping thread. <see cref="OnIdleEnded"/> reports how each idle moment ended.
    /// </summary>
    private int WaitIdle(EpollEvent[] events)
    {
        if (_idleSpinTicks <= 0)
        {
            return _epoll.Wait(events, WaitTimeout());
        }
        var n = _epoll.Wait(events, 0);
        if (n > 0 || !_queue.IsEmpty)
        {
            return n; // not idle: more work was already there
        }
        var until = Stopwatch.GetTimestamp() + _idleSpinTicks;
        while (Stopwatch.GetTimestamp() < until)
        {
            Thread.Yield();
            n = _epoll.Wait(events, 0);
            if (n > 0 || !_queue.IsEmpty)
            {
                Guard(static l => l.OnIdleEnded(slept: false));
                return n;
            }
        }
        Guard(static l => l.OnIdleEnded(slept: true));
        return _epoll.Wait(events, WaitTimeout());
    }

    private int WaitTimeout()
    {
        if (_tickInterval < 0)
        {
            return -1;
        }
        return (int)Math.Clamp(_nextTick - Environment.TickCount64, 0, int.MaxValue);
    }

    private void Tick()
    {
        var now = Environment.TickCount64;
        if (now >= _nextTick)
        {
            try
            {
                OnTick(now);
            }
            catch (Exception ex)
            {
                OnHandlerFailed(ex);
            }
            _nextTick = now + Math.Max(_tickInterval, 0);
        }
    }

    private void Dispatch(in EpollEvent ev)
    {
        var token = ev.Data;
        if (token == Epoll.WakeToken)
        {
            // Read the eventfd first, then clear the flag: the other order can swallow a wake written after the clear
            // and leave the flag set forever (every later Schedule would then skip its wake-up).
            _epoll.ResetWake();
            Volatile.Write(ref _signalled, 0);
            return;
        }
        if (_handlers.Find(token) is { } handler)
        {
            try
            {
                handler.OnEvents(ev.Events);
            }
            catch (Exception ex)
            {
                OnHandlerFailed(ex);
            }
        }
    }

    private void RunQueued()
    {
        // Bounded: work queued while draining runs in the next round, after epoll had a chance to report I/O.
        for (var budget = _queue.Count; budget > 0 && _queue.TryDequeue(out var item); budget--)
        {
            try
            {
                item.Action(item.State);
            }
            catch (Exception ex)
            {
                OnHandlerFailed(ex);
            }
        }
    }

    private void Guard(Action<EventLoop> hook)
    {
        try
        {
            hook(this);
        }
        catch (Exception ex)
        {
            OnHandlerFailed(ex);
        }
    }

    /// <summary>The loop died: let the owner fail what it owned, forget every handler, hand queued work to the thread pool.</summary>
    private void Fail(Exception error)
    {
        _faulted = true;
        Guard(l => l.OnFaulted(error));
        _handlers.Clear();
        while (_queue.TryDequeue(out var item))
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(item.Action, item.State, preferLocal: false);
        }
    }
}
