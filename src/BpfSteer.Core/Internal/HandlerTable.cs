namespace BpfSteer.Internal;

/// <summary>
/// The token → handler table of an <see cref="EventLoop"/> (single-threaded). A token is a slot index plus the slot's
/// generation, so a lookup is an array read, and an event of the same epoll batch that still carries a removed token
/// finds nothing even when the slot was reused meanwhile. 0 is never a token.
/// </summary>
internal sealed class HandlerTable
{
    private readonly Stack<int> _free = new();
    private Slot[] _slots = new Slot[64];
    private int _used;

    /// <summary>Takes a free slot and returns its token; <see cref="Commit"/> gives it a handler.</summary>
    public ulong Reserve()
    {
        if (!_free.TryPop(out var index))
        {
            if (_used == _slots.Length)
            {
                Array.Resize(ref _slots, _used * 2);
            }
            index = _used++;
        }
        ref var slot = ref _slots[index];
        if (slot.Generation == 0)
        {
            slot.Generation = 1;
        }
        return ((ulong)slot.Generation << 32) | (uint)index;
    }

    /// <summary>Makes a reserved token find <paramref name="handler"/>.</summary>
    public void Commit(ulong token, IEventLoopHandler handler) => _slots[(int)(uint)token].Handler = handler;

    /// <summary>Gives back a reserved token that was never committed (registration failed).</summary>
    public void Cancel(ulong token) => _free.Push((int)(uint)token);

    /// <summary>Forgets a committed token; false when it was already removed (or is 0).</summary>
    public bool Remove(ulong token)
    {
        var index = (int)(uint)token;
        if (token == 0 || (uint)index >= (uint)_used)
        {
            return false;
        }
        ref var slot = ref _slots[index];
        if (slot.Handler is null || slot.Generation != (uint)(token >> 32))
        {
            return false;
        }
        slot.Handler = null;
        slot.Generation = slot.Generation == uint.MaxValue ? 1 : slot.Generation + 1;
        _free.Push(index);
        return true;
    }

    /// <summary>The handler of a live token, else null.</summary>
    public IEventLoopHandler? Find(ulong token)
    {
        var index = (int)(uint)token;
        if ((uint)index >= (uint)_used)
        {
            return null;
        }
        ref var slot = ref _slots[index];
        return slot.Generation == (uint)(token >> 32) ? slot.Handler : null;
    }

    /// <summary>Drops every handler (the loop died).</summary>
    public void Clear()
    {
        Array.Clear(_slots);
        _free.Clear();
        _used = 0;
    }

    private struct Slot
    {
        public IEventLoopHandler? Handler;
        public uint Generation;
    }
}
