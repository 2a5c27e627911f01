using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Interop;

/// <summary>
/// Where <c>struct epoll_event</c> keeps its fields on one architecture. x86-64 packs it (12 bytes, data at 4): that is
/// the layout of <see cref="EpollEvent"/>, so on x64 an event array goes to the kernel as it is. arm64 aligns it
/// (16 bytes, data at 8): there <see cref="Libc.EpollCtl"/> and <see cref="Libc.EpollWait"/> convert, so callers see
/// the same <see cref="EpollEvent"/> everywhere.
/// </summary>
internal readonly record struct EpollEventLayout(int Size, int DataOffset)
{
    /// <summary>x86-64 (<c>__EPOLL_PACKED</c>).</summary>
    public static readonly EpollEventLayout Packed = new(12, 4);

    /// <summary>Every other 64-bit architecture, arm64 among them.</summary>
    public static readonly EpollEventLayout Aligned = new(16, 8);

    /// <summary>The largest native size, for a stack buffer.</summary>
    public const int MaxSize = 16;

    /// <summary>This process's layout; null on an architecture <see cref="NativeAbi"/> refuses.</summary>
    public static readonly EpollEventLayout? Current = For(RuntimeInformation.ProcessArchitecture);

    /// <summary>True when an <see cref="EpollEvent"/> array is passed to the kernel unchanged (x64).</summary>
    public static readonly bool CurrentIsManaged = Current == Packed;

    /// <summary>The layout on a checked architecture; null elsewhere.</summary>
    public static EpollEventLayout? For(Architecture architecture) => architecture switch
    {
        Architecture.X64 => Packed,
        Architecture.Arm64 => Aligned,
        _ => null,
    };

    /// <summary>How many native entries fit in the bytes of <paramref name="managedCount"/> <see cref="EpollEvent"/>s.</summary>
    public unsafe int CapacityIn(int managedCount) => managedCount * sizeof(EpollEvent) / Size;

    public unsafe void Write(in EpollEvent ev, byte* native)
    {
        Unsafe.WriteUnaligned(native, ev.Events);
        Unsafe.WriteUnaligned(native + DataOffset, ev.Data);
    }

    public unsafe EpollEvent Read(byte* native)
        => new() { Events = Unsafe.ReadUnaligned<uint>(native), Data = Unsafe.ReadUnaligned<ulong>(native + DataOffset) };

    /// <summary>
    /// Rewrites <paramref name="count"/> native entries at <paramref name="buffer"/> as <see cref="EpollEvent"/>s in
    /// place. Entry i moves from i * Size down to i * 12, never past the start of entry i + 1, so going up is safe.
    /// </summary>
    public unsafe void ToManaged(byte* buffer, int count)
    {
        var events = (EpollEvent*)buffer;
        for (var i = 0; i < count; i++)
        {
            events[i] = Read(buffer + (nint)i * Size);
        }
    }
}
