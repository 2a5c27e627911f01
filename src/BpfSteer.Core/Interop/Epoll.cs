using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Interop;

/// <summary>An epoll instance plus an eventfd to wake its waiter from another thread.</summary>
internal sealed unsafe class Epoll : IDisposable
{
    private readonly SafeFileDescriptorHandle _epoll;
    private readonly SafeFileDescriptorHandle _wake;

    /// <summary>The <c>data</c> value reported when <see cref="Wake"/> was called.</summary>
    public const ulong WakeToken = ulong.MaxValue;

    public Epoll()
    {
        var fd = EpollCreate1(EPOLL_CLOEXEC);
        PosixResult.FromReturn(fd).ThrowOnError("epoll_create1");
        _epoll = new SafeFileDescriptorHandle(fd, true);
        var efd = EventFd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        PosixResult.FromReturn(efd).ThrowOnError("eventfd");
        _wake = new SafeFileDescriptorHandle(efd, true);
        Add(_wake, EPOLLIN, WakeToken);
    }

    public PosixResult TryControl(int op, SafeHandle fd, uint events, ulong data)
    {
        var ev = new EpollEvent { Events = events, Data = data };
        int r;
        do { r = EpollCtl(_epoll, op, fd, op == EPOLL_CTL_DEL ? null : &ev); } while (NativeSocket.Interrupted(r));
        return PosixResult.FromReturn(r);
    }

    public void Add(SafeHandle fd, uint events, ulong data) => TryControl(EPOLL_CTL_ADD, fd, events, data).ThrowOnError("epoll_ctl(ADD)");

    /// <summary>Removes <paramref name="fd"/>; a descriptor already closed or never added is not an error.</summary>
    public PosixResult Remove(SafeHandle fd) => TryControl(EPOLL_CTL_DEL, fd, 0, 0);

    /// <summary>Waits for events; returns how many were written to <paramref name="events"/>. EINTR gives 0.</summary>
    public int Wait(Span<EpollEvent> events, int timeoutMs)
    {
        fixed (EpollEvent* p = events)
        {
            var r = EpollWait(_epoll, p, events.Length, timeoutMs);
            if (r < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                {
                    return 0;
                }
                throw ErrnoMap.ToException(errno, "epoll_wait");
            }
            return r;
        }
    }

    /// <summary>Wakes a thread blocked in <see cref="Wait"/>; safe from any thread.</summary>
    public void Wake()
    {
        ulong one = 1;
        Write(_wake, (byte*)&one, sizeof(ulong));
    }

    /// <summary>Consumes pending wake-ups (call when <see cref="WakeToken"/> was reported).</summary>
    public void ResetWake()
    {
        ulong value;
        Read(_wake, (byte*)&value, sizeof(ulong));
    }

    public void Dispose()
    {
        _wake.Dispose();
        _epoll.Dispose();
    }
}
