using System.Net;
using System.Net.Sockets;
using BpfSteer.Internal;
using BpfSteer.Interop;
using Microsoft.AspNetCore.Connections;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Core.Tests;

/// <summary>The one errno-to-exception map, driven by real failing calls where the kernel can produce them.</summary>
public class ErrnoMapTests
{
    [Fact]
    public void Listen_PortAlreadyListening_ThrowsAddressInUseException()
    {
        // Two SO_REUSEADDR sockets may bind the same port; the second listen() is refused with EADDRINUSE.
        using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        NativeSocket.SetInt(first.SafeHandle, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
        NativeSocket.SetInt(second.SafeHandle, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
        first.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        second.Bind(first.LocalEndPoint!);
        NativeSocket.TryListen(first.SafeHandle, 8).ThrowOnError("listen");

        var ex = Assert.Throws<AddressInUseException>(() => NativeSocket.TryListen(second.SafeHandle, 8).ThrowOnError("listen", "Urls"));
        Assert.Contains("listen (needed by 'Urls')", ex.Message);
        Assert.Contains("errno 98", ex.Message);
    }

    [Fact]
    public void InsertSocket_PeerAlreadyClosed_ThrowsPlatformNotSupported()
    {
        // Only ESTABLISHED sockets enter a sockmap; CLOSE_WAIT gives EOPNOTSUPP
        // (docs/design.md, "Sockmap: only established sockets enter").
        var map = BpfMap.Create(Libbpf.BPF_MAP_TYPE_SOCKHASH, "errno_test", sizeof(ulong), sizeof(ulong), 4);
        using var fd = map.Fd;
        using var pair = LoopbackPair.Create();
        pair.Client.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, pair.Accepted.Receive(new byte[1])); // FIN processed: CLOSE_WAIT

        var r = map.TryInsertSocket(1UL, pair.Accepted.SafeHandle);
        Assert.Equal(Interop.Errno.EOPNOTSUPP, r.Errno);
        Assert.Throws<PlatformNotSupportedException>(() => r.ThrowOnError("bpf_map_update_elem(sockhash)"));
    }

    [Fact]
    public void GetInt_ClosedDescriptor_ThrowsNativeIOExceptionWithStrerror()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var fd = (int)socket.SafeHandle.DangerousGetHandle();
        socket.Dispose();
        using var stale = new SafeFileDescriptorHandle(fd, ownsHandle: false);

        var ex = Assert.Throws<NativeIOException>(() => NativeSocket.GetInt(stale, SOL_SOCKET, SO_ERROR, "getsockopt(SO_ERROR)"));
        Assert.Equal(Interop.Errno.EBADF, ex.Errno);
        Assert.Contains("Bad file descriptor", ex.Message);
    }

    [Fact]
    public void DeleteMissingKey_Sockhash_ReportsEnoentWithoutThrowing()
    {
        var map = BpfMap.Create(Libbpf.BPF_MAP_TYPE_SOCKHASH, "errno_test", sizeof(ulong), sizeof(ulong), 4);
        using var fd = map.Fd;
        Assert.Equal(Interop.Errno.ENOENT, map.TryDelete(7UL).Errno);
    }

    [Theory]
    [InlineData(Interop.Errno.EPERM, typeof(MissingCapabilityException))]
    [InlineData(Interop.Errno.EACCES, typeof(MissingCapabilityException))]
    [InlineData(Interop.Errno.ENOSYS, typeof(PlatformNotSupportedException))]
    [InlineData(Interop.Errno.EOPNOTSUPP, typeof(PlatformNotSupportedException))]
    [InlineData(Interop.Errno.EADDRINUSE, typeof(AddressInUseException))]
    [InlineData(Interop.Errno.ECONNRESET, typeof(ConnectionResetException))]
    [InlineData(Interop.Errno.ECONNABORTED, typeof(ConnectionAbortedException))]
    [InlineData(Interop.Errno.ENOMEM, typeof(NativeIOException))]
    public void ToException_Errno_MapsToDocumentedType(int errno, Type expected)
        => Assert.IsType(expected, ErrnoMap.ToException(errno, "op"));

    [Fact]
    public void ToException_EpermOnBpfCall_NamesCapBpf()
    {
        var ex = Assert.IsType<MissingCapabilityException>(ErrnoMap.ToException(Interop.Errno.EPERM, "bpf_map_create(conns)"));
        Assert.StartsWith("CAP_BPF", ex.Capability);
        Assert.Contains("AmbientCapabilities", ex.Message);
        var socketEx = Assert.IsType<MissingCapabilityException>(ErrnoMap.ToException(Interop.Errno.EPERM, "setsockopt(SO_ATTACH_REUSEPORT_CBPF)"));
        Assert.Equal("CAP_NET_ADMIN", socketEx.Capability);
    }
}
