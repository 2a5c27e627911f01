using Microsoft.Win32.SafeHandles;

namespace BpfSteer.Interop;

/// <summary>Owns a Linux file descriptor (socket, epoll, eventfd, pipe, BPF map or program) and closes it once.</summary>
internal sealed class SafeFileDescriptorHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private static long s_closedByFinalizer;
    private readonly bool _owns;

    public SafeFileDescriptorHandle() : base(ownsHandle: true) => _owns = true;

    public SafeFileDescriptorHandle(int fd, bool ownsHandle) : base(ownsHandle)
    {
        _owns = ownsHandle;
        SetHandle(fd);
    }

    /// <summary>
    /// Descriptors closed by the garbage collector rather than by Dispose, process-wide: each one was dropped while still
    /// open, a leak that lasted until the next collection. Leak tests assert that it does not grow.
    /// </summary>
    public static long ClosedByFinalizer => Interlocked.Read(ref s_closedByFinalizer);

    /// <summary>fd 0 is valid on Linux; only -1 is not.</summary>
    public override bool IsInvalid => handle == -1;

    public int Fd => (int)handle;

    /// <summary>Gives up ownership and returns the raw descriptor (the caller closes it).</summary>
    public int Detach()
    {
        var fd = (int)handle;
        SetHandleAsInvalid();
        return fd;
    }

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;

    protected override void Dispose(bool disposing)
    {
        if (!disposing && _owns && !IsInvalid && !IsClosed)
        {
            Interlocked.Increment(ref s_closedByFinalizer);
        }
        base.Dispose(disposing);
    }
}
