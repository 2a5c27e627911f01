using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Interop;

/// <summary>
/// splice(2) with the caller's flags. <see cref="NativeSocket.TrySplice"/> always adds SPLICE_F_MORE, which on a
/// socket means MSG_MORE: the kernel holds a small final segment back (a request/response exchange then waits on
/// the cork timer, about 200 ms per round trip). A forwarder moving interactive traffic must not set it.
/// </summary>
internal static class NativeSplice
{
    public const uint NonBlockingMove = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

    public static PosixResult TrySplice(SafeHandle from, SafeHandle to, int length, uint flags = NonBlockingMove)
    {
        nint r;
        do { r = Splice(from, 0, to, 0, (nuint)length, flags); } while (NativeSocket.Interrupted(r));
        return PosixResult.FromReturn(r);
    }
}
