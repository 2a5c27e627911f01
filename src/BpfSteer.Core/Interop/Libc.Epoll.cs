using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

internal static partial class Libc
{
    internal const uint EPOLLIN = 0x001;
    internal const uint EPOLLPRI = 0x002;
    internal const uint EPOLLOUT = 0x004;
    internal const uint EPOLLERR = 0x008;
    internal const uint EPOLLHUP = 0x010;
    internal const uint EPOLLRDHUP = 0x2000;
    internal const uint EPOLLEXCLUSIVE = 1u << 28;
    internal const uint EPOLLONESHOT = 1u << 30;
    internal const uint EPOLLET = 1u << 31;

    internal const int EPOLL_CTL_ADD = 1;
    internal const int EPOLL_CTL_DEL = 2;
    internal const int EPOLL_CLOEXEC = 0x80000;

    /// <summary>
    /// struct epoll_event as x86-64 lays it out (packed, 12 bytes). On arm64 the C struct is 16 bytes:
    /// <see cref="EpollCtl"/> and <see cref="EpollWait"/> convert through <see cref="EpollEventLayout"/>.
    /// </summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    internal struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "epoll_create1", SetLastError = true)]
    internal static partial int EpollCreate1(int flags);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "epoll_ctl", SetLastError = true)]
    private static unsafe partial int EpollCtlNative(SafeHandle epfd, int op, SafeHandle fd, void* ev);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "epoll_wait", SetLastError = true)]
    private static unsafe partial int EpollWaitNative(SafeHandle epfd, void* events, int maxevents, int timeout);

    /// <summary>epoll_ctl(2) with <paramref name="ev"/> in this architecture's layout.</summary>
    internal static unsafe int EpollCtl(SafeHandle epfd, int op, SafeHandle fd, EpollEvent* ev)
    {
        if (EpollEventLayout.CurrentIsManaged || ev is null)
        {
            return EpollCtlNative(epfd, op, fd, ev);
        }
        var native = stackalloc byte[EpollEventLayout.MaxSize];
        CurrentEpollLayout().Write(*ev, native);
        return EpollCtlNative(epfd, op, fd, native);
    }

    /// <summary>
    /// epoll_wait(2) into <paramref name="events"/>. Where the C struct is larger than <see cref="EpollEvent"/>, the
    /// kernel is asked for as many entries as fit in the caller's bytes (a quarter fewer on arm64), which are then
    /// rewritten in place.
    /// </summary>
    internal static unsafe int EpollWait(SafeHandle epfd, EpollEvent* events, int maxevents, int timeout)
    {
        if (EpollEventLayout.CurrentIsManaged)
        {
            return EpollWaitNative(epfd, events, maxevents, timeout);
        }
        var layout = CurrentEpollLayout();
        var capacity = layout.CapacityIn(maxevents);
        if (capacity == 0 && maxevents > 0)
        {
            var one = stackalloc byte[EpollEventLayout.MaxSize];
            var r1 = EpollWaitNative(epfd, one, 1, timeout);
            if (r1 > 0)
            {
                *events = layout.Read(one);
            }
            return r1;
        }
        var r = EpollWaitNative(epfd, events, capacity, timeout);
        if (r > 0)
        {
            layout.ToManaged((byte*)events, r);
        }
        return r;
    }

    private static EpollEventLayout CurrentEpollLayout()
        => EpollEventLayout.Current ?? throw new PlatformNotSupportedException(NativeAbi.Refusal(RuntimeInformation.ProcessArchitecture, "BpfSteer's epoll loop"));
}
