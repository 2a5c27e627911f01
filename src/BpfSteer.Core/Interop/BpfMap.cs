using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libbpf;

namespace BpfSteer.Interop;

/// <summary>
/// A BPF map fd with typed update/lookup/delete. Keys and values are unmanaged structs whose sizes are checked against
/// the map's (when known): the kernel copies value_size bytes into the caller's buffer, so a C# mirror that lags its C
/// struct would otherwise overrun the stack instead of failing.
/// </summary>
internal sealed unsafe class BpfMap
{
    private readonly uint _keySize;
    private readonly uint _valueSize;

    /// <param name="name">The map's name, for messages.</param>
    /// <param name="fd">The map's file descriptor.</param>
    /// <param name="keySize">The map's key size in bytes; 0 when unknown (not checked).</param>
    /// <param name="valueSize">The map's value size in bytes; 0 when unknown (not checked).</param>
    public BpfMap(string name, SafeFileDescriptorHandle fd, uint keySize = 0, uint valueSize = 0)
    {
        Name = name;
        Fd = fd;
        _keySize = keySize;
        _valueSize = valueSize;
    }

    public string Name { get; }

    public SafeFileDescriptorHandle Fd { get; }

    /// <summary>Creates a standalone map (no object): used by the feature probe and tests.</summary>
    public static BpfMap Create(int mapType, string name, uint keySize, uint valueSize, uint maxEntries)
    {
        var fd = MapCreate(mapType, name, keySize, valueSize, maxEntries, 0);
        BpfObject.CheckLibbpf(fd, $"bpf_map_create({name})");
        return new BpfMap(name, new SafeFileDescriptorHandle(fd, ownsHandle: true), keySize, valueSize);
    }

    private void CheckSizes(int keySize, int valueSize)
    {
        if ((_keySize != 0 && keySize != _keySize) || (_valueSize != 0 && valueSize >= 0 && valueSize != _valueSize))
        {
            throw new ArgumentException($"BPF map '{Name}' has {_keySize}-byte keys and {_valueSize}-byte values; " +
                $"the call passed {keySize}-byte keys" + (valueSize >= 0 ? $" and {valueSize}-byte values" : "") + ": the C# mirror does not match the C struct.");
        }
    }

    public PosixResult TryUpdate<TKey, TValue>(in TKey key, in TValue value, ulong flags = BPF_ANY)
        where TKey : unmanaged where TValue : unmanaged
    {
        CheckSizes(sizeof(TKey), sizeof(TValue));
        fixed (TKey* k = &key)
        fixed (TValue* v = &value)
        {
            return Result(MapUpdateElem(Fd, k, v, flags));
        }
    }

    public void Update<TKey, TValue>(in TKey key, in TValue value, ulong flags = BPF_ANY)
        where TKey : unmanaged where TValue : unmanaged
        => TryUpdate(key, value, flags).ThrowOnError($"bpf_map_update_elem({Name})");

    /// <summary>Inserts a socket (by fd) into a sockmap/sockhash under <paramref name="key"/>.</summary>
    public PosixResult TryInsertSocket<TKey>(in TKey key, SafeHandle socket, ulong flags = BPF_ANY) where TKey : unmanaged
    {
        var added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            ulong fd = (ulong)socket.DangerousGetHandle();
            return TryUpdate(key, fd, flags);
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    public bool TryLookup<TKey, TValue>(in TKey key, out TValue value) where TKey : unmanaged where TValue : unmanaged
    {
        CheckSizes(sizeof(TKey), sizeof(TValue));
        TValue v = default;
        fixed (TKey* k = &key)
        {
            var r = MapLookupElem(Fd, k, &v);
            value = v;
            if (r == -Errno.ENOENT)
            {
                return false;
            }
            Result(r).ThrowOnError($"bpf_map_lookup_elem({Name})");
            return true;
        }
    }

    /// <summary>Lookup into a caller buffer: per-CPU maps return one value per possible CPU.</summary>
    public bool TryLookupRaw<TKey>(in TKey key, Span<byte> value) where TKey : unmanaged
    {
        CheckSizes(sizeof(TKey), -1);
        if (value.Length < _valueSize)
        {
            throw new ArgumentException($"BPF map '{Name}' has {_valueSize}-byte values; the buffer has {value.Length} bytes.", nameof(value));
        }
        fixed (TKey* k = &key)
        fixed (byte* v = value)
        {
            var r = MapLookupElem(Fd, k, v);
            if (r == -Errno.ENOENT)
            {
                return false;
            }
            Result(r).ThrowOnError($"bpf_map_lookup_elem({Name})");
            return true;
        }
    }

    /// <summary>Deletes a key; a missing key is reported as ENOENT, not thrown.</summary>
    public PosixResult TryDelete<TKey>(in TKey key) where TKey : unmanaged
    {
        CheckSizes(sizeof(TKey), -1);
        fixed (TKey* k = &key)
        {
            return Result(MapDeleteElem(Fd, k));
        }
    }

    /// <summary>Counts the keys currently in the map (walks it; for tests and status, not hot paths).</summary>
    public int Count<TKey>() where TKey : unmanaged
    {
        var count = 0;
        TKey key = default, next = default;
        var r = MapGetNextKey(Fd, null, &next);
        while (r == 0)
        {
            count++;
            key = next;
            r = MapGetNextKey(Fd, &key, &next);
        }
        return count;
    }

    /// <summary>The keys currently in the map.</summary>
    public List<TKey> Keys<TKey>() where TKey : unmanaged
    {
        var keys = new List<TKey>();
        TKey key = default, next = default;
        var r = MapGetNextKey(Fd, null, &next);
        while (r == 0)
        {
            keys.Add(next);
            key = next;
            r = MapGetNextKey(Fd, &key, &next);
        }
        return keys;
    }

    private static PosixResult Result(int libbpfReturn) => libbpfReturn < 0 ? PosixResult.FromErrno(-libbpfReturn) : new PosixResult(libbpfReturn);
}
