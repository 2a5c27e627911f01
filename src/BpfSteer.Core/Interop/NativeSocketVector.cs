using System.Buffers;
using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Interop;

/// <summary>Gathered send: many buffer segments in one sendmsg call (MSG_NOSIGNAL), instead of one send per segment.</summary>
internal static unsafe class NativeSocketVector
{
    /// <summary>At most this many segments per call (well under IOV_MAX = 1024; keeps the stack use small).</summary>
    public const int MaxSegments = 64;

    // Per thread: the pins are released before the call returns, so one array per thread is enough and avoids garbage.
    [ThreadStatic]
    private static MemoryHandle[]? t_handles;

    /// <summary>Sends from the start of <paramref name="buffer"/>; returns bytes sent (possibly partial) or -errno.</summary>
    public static PosixResult TrySend(SafeHandle socket, in ReadOnlySequence<byte> buffer)
    {
        var vectors = stackalloc IoVec[MaxSegments];
        var handles = t_handles ??= new MemoryHandle[MaxSegments];
        var count = 0;
        try
        {
            foreach (var segment in buffer)
            {
                if (segment.IsEmpty)
                {
                    continue;
                }
                handles[count] = segment.Pin();
                vectors[count] = new IoVec { Base = (byte*)handles[count].Pointer, Length = (nuint)segment.Length };
                if (++count == MaxSegments)
                {
                    break;
                }
            }
            var message = new MsgHdr { Iov = vectors, IovLength = (nuint)count };
            nint r;
            do { r = SendMsg(socket, &message, MSG_NOSIGNAL); } while (NativeSocket.Interrupted(r));
            return PosixResult.FromReturn(r);
        }
        finally
        {
            for (var i = 0; i < count; i++)
            {
                handles[i].Dispose();
                handles[i] = default;
            }
        }
    }
}
