using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Interop;

/// <summary>
/// Socket calls BpfSteer needs beyond System.Net.Sockets: raw options, accept4, recv/send with flags, splice,
/// queue sizes. <c>TryX</c> returns a <see cref="PosixResult"/>; <c>X</c> throws through <see cref="ErrnoMap"/>.
/// EINTR is retried inside every call; EAGAIN is returned by the <c>Try</c> forms, never thrown.
/// </summary>
internal static unsafe class NativeSocket
{
    public static PosixResult TrySetInt(SafeHandle socket, int level, int name, int value)
    {
        int r;
        do { r = SetSockOpt(socket, level, name, &value, sizeof(int)); } while (Interrupted(r));
        return PosixResult.FromReturn(r);
    }

    public static void SetInt(SafeHandle socket, int level, int name, int value, string operation)
        => TrySetInt(socket, level, name, value).ThrowOnError(operation);

    public static PosixResult TryGetInt(SafeHandle socket, int level, int name)
    {
        int value = 0, r;
        uint len = sizeof(int);
        do { r = GetSockOpt(socket, level, name, &value, &len); } while (Interrupted(r));
        return r == 0 ? new PosixResult(value) : PosixResult.FromReturn(r);
    }

    public static int GetInt(SafeHandle socket, int level, int name, string operation)
        => TryGetInt(socket, level, name).ThrowOnError(operation).IntValue;

    /// <summary>SO_COOKIE: the kernel's 64-bit id for the socket (the sockhash key).</summary>
    public static ulong GetCookie(SafeHandle socket)
    {
        ulong cookie = 0;
        uint len = sizeof(ulong);
        int r;
        do { r = GetSockOpt(socket, SOL_SOCKET, SO_COOKIE, &cookie, &len); } while (Interrupted(r));
        PosixResult.FromReturn(r).ThrowOnError("getsockopt(SO_COOKIE)");
        return cookie;
    }

    /// <summary>SO_INCOMING_CPU: on an accepted socket, the CPU that received the connection.</summary>
    public static int GetIncomingCpu(SafeHandle socket)
        => GetInt(socket, SOL_SOCKET, SO_INCOMING_CPU, "getsockopt(SO_INCOMING_CPU)");

    /// <summary>SO_ERROR: reads and clears the pending socket error.</summary>
    public static int TakeError(SafeHandle socket)
        => GetInt(socket, SOL_SOCKET, SO_ERROR, "getsockopt(SO_ERROR)");

    /// <summary>Attaches a classic BPF program to the reuseport group <paramref name="socket"/> belongs to.</summary>
    public static PosixResult TryAttachReuseportCbpf(SafeHandle socket, ReadOnlySpan<SockFilter> program)
    {
        fixed (SockFilter* filters = program)
        {
            var fprog = new SockFprog { Length = checked((ushort)program.Length), Filter = filters };
            int r;
            do { r = SetSockOpt(socket, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, (uint)sizeof(SockFprog)); } while (Interrupted(r));
            return PosixResult.FromReturn(r);
        }
    }

    /// <summary>Attaches an eBPF <c>sk_reuseport</c> program (by fd) to the reuseport group.</summary>
    public static PosixResult TryAttachReuseportEbpf(SafeHandle socket, int programFd)
    {
        int r;
        do { r = SetSockOpt(socket, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &programFd, sizeof(int)); } while (Interrupted(r));
        return PosixResult.FromReturn(r);
    }

    /// <summary>Reads the part of TCP_INFO this project uses.</summary>
    public static PosixResult TryGetTcpInfo(SafeHandle socket, out TcpInfo info)
    {
        TcpInfo value = default;
        uint len = (uint)sizeof(TcpInfo);
        int r;
        do { r = GetSockOpt(socket, IPPROTO_TCP, TCP_INFO, &value, &len); } while (Interrupted(r));
        info = value;
        return PosixResult.FromReturn(r);
    }

    /// <summary>Whether the TCP socket is ESTABLISHED (neither side has sent a FIN, no reset); false when it cannot be read.</summary>
    public static bool IsEstablished(SafeHandle socket) => TryGetTcpInfo(socket, out var info).IsSuccess && info.State == TcpInfo.Established;

    /// <summary>listen(2); the reuseport group index of a socket is the order of its listen() call.</summary>
    public static PosixResult TryListen(SafeHandle socket, int backlog)
    {
        int r;
        do { r = Listen(socket, backlog); } while (Interrupted(r));
        return PosixResult.FromReturn(r);
    }

    /// <summary>accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC; EAGAIN when the queue is empty.</summary>
    public static PosixResult TryAccept(SafeHandle listener, out SafeFileDescriptorHandle? accepted)
    {
        int r;
        do { r = Accept4(listener, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC); } while (Interrupted(r));
        accepted = r >= 0 ? new SafeFileDescriptorHandle(r, ownsHandle: true) : null;
        return PosixResult.FromReturn(r);
    }

    public static PosixResult TryReceive(SafeHandle socket, Span<byte> buffer, int flags = 0)
    {
        fixed (byte* p = buffer)
        {
            nint r;
            do { r = Recv(socket, p, (nuint)buffer.Length, flags); } while (Interrupted(r));
            return PosixResult.FromReturn(r);
        }
    }

    /// <summary>send with MSG_NOSIGNAL always added, so a closed peer gives EPIPE instead of SIGPIPE.</summary>
    public static PosixResult TrySend(SafeHandle socket, ReadOnlySpan<byte> buffer, int flags = 0)
    {
        fixed (byte* p = buffer)
        {
            nint r;
            do { r = Libc.Send(socket, p, (nuint)buffer.Length, flags | MSG_NOSIGNAL); } while (Interrupted(r));
            return PosixResult.FromReturn(r);
        }
    }

    public static PosixResult TryShutdown(SafeHandle socket, int how)
    {
        int r;
        do { r = Libc.Shutdown(socket, how); } while (Interrupted(r));
        return PosixResult.FromReturn(r);
    }

    /// <summary>Bytes queued for reading (SIOCINQ) or not yet acknowledged by the peer (SIOCOUTQ).</summary>
    public static PosixResult TryQueueSize(SafeHandle socket, uint request)
    {
        int value = 0, r;
        do { r = Ioctl(socket, request, &value); } while (Interrupted(r));
        return r == 0 ? new PosixResult(value) : PosixResult.FromReturn(r);
    }

    /// <summary>splice between a socket and a pipe, non-blocking; 0 means end of stream.</summary>
    public static PosixResult TrySplice(SafeHandle from, SafeHandle to, int length)
    {
        nint r;
        do { r = Libc.Splice(from, 0, to, 0, (nuint)length, SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE); } while (Interrupted(r));
        return PosixResult.FromReturn(r);
    }

    /// <summary>Creates a non-blocking pipe pair for splice.</summary>
    public static (SafeFileDescriptorHandle Read, SafeFileDescriptorHandle Write) CreatePipe()
    {
        int* fds = stackalloc int[2];
        int r;
        do { r = Pipe2(fds, O_NONBLOCK | O_CLOEXEC); } while (Interrupted(r));
        PosixResult.FromReturn(r).ThrowOnError("pipe2");
        return (new SafeFileDescriptorHandle(fds[0], true), new SafeFileDescriptorHandle(fds[1], true));
    }

    /// <summary>True when a call returned -1 with EINTR and must be repeated.</summary>
    internal static bool Interrupted(long ret)
        => ret < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR;
}
