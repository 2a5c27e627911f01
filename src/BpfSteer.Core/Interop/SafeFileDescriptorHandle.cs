using Microsoft.Win32.SafeHandles;

namespace BpfSteer.Interop;

/// <summary>Owns a Linux file descriptor (socket, epoll, eventfd, pipe, BPF map or program) and closes it once.</summary>
internal sealed class SafeFileDescriptorHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeFileDescriptorHandle() : base(ownsHandle: true)
    {
    }

    public SafeFileDescriptorHandle(int fd, bool ownsHandle) : base(ownsHandle) => SetHandle(fd);

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
}
