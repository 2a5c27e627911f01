using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Interop;

/// <summary>
/// A BPF ARRAY map created with BPF_F_MMAPABLE, mapped shared into this process. Elements are read and
/// written with atomic memory operations while programs update them: no syscall per access, and no
/// whole-value copy (bpf_map_update_elem) that would overwrite a program's concurrent increments.
/// </summary>
internal sealed unsafe class MappedBpfArray : IDisposable
{
    private nint _address;
    private readonly nuint _length;

    private MappedBpfArray(nint address, nuint length, int elementSize, int count)
    {
        _address = address;
        _length = length;
        ElementSize = elementSize;
        Count = count;
    }

    /// <summary>Bytes per element: the map's value size rounded up to 8, as the kernel lays it out.</summary>
    public int ElementSize { get; }

    public int Count { get; }

    /// <summary>Maps <paramref name="count"/> elements of <paramref name="valueSize"/> bytes of the array map <paramref name="map"/>.</summary>
    public static MappedBpfArray Map(BpfMap map, int valueSize, int count)
    {
        var elementSize = (valueSize + 7) & ~7;
        var page = GetPageSize();
        var length = (nuint)(((long)elementSize * count + page - 1) / page * page);
        var address = Mmap(0, length, PROT_READ | PROT_WRITE, MAP_SHARED, map.Fd, 0);
        if (address == MAP_FAILED)
        {
            throw ErrnoMap.ToException(Marshal.GetLastPInvokeError(), $"mmap({map.Name})", "BPF_F_MMAPABLE array");
        }
        return new MappedBpfArray(address, length, elementSize, count);
    }

    /// <summary>A pointer to element <paramref name="index"/>; valid until <see cref="Dispose"/>.</summary>
    public T* Element<T>(int index) where T : unmanaged
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"Element {index} of a {Count}-element map.");
        }
        ObjectDisposedException.ThrowIf(_address == 0, this);
        return (T*)(_address + (nint)index * ElementSize);
    }

    public void Dispose()
    {
        if (_address != 0)
        {
            Munmap(_address, _length);
            _address = 0;
        }
    }
}
