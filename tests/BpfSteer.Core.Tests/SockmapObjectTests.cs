using System.Runtime.InteropServices;
using BpfSteer.Internal;
using BpfSteer.Interop;
using static BpfSteer.Interop.Libbpf;

namespace BpfSteer.Core.Tests;

/// <summary>
/// The embedded sockmap object (bpf/sockmap_forward.bpf.c, built by build/Bpf.targets) opened with
/// bpf_object__open_mem, loaded, attached, and used for real: sockets inserted, bytes redirected, sockets removed.
/// </summary>
public sealed class SockmapObjectTests : IDisposable
{
    private readonly BpfObject _object = BpfObject.OpenEmbedded(typeof(Yarp.SockmapForwarder.TcpForwarderMode).Assembly, "sockmap_forward.bpf");

    [Fact]
    public void OpenEmbedded_MissingObject_ThrowsNamingTheResource()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => BpfObject.OpenEmbedded(typeof(SockmapObjectTests).Assembly, "nope.bpf"));
        Assert.Contains("bpf/nope.bpf.o", ex.Message);
    }

    [Fact]
    public void InsertAndRemove_EstablishedSocket_MapCountFollows()
    {
        _object.Load();
        var sockets = _object.Map("sock_ops_map");
        using var pair = LoopbackPair.Create();
        var cookie = NativeSocket.GetCookie(pair.Accepted.SafeHandle);

        sockets.TryInsertSocket(cookie, pair.Accepted.SafeHandle).ThrowOnError("insert");
        Assert.Equal(1, sockets.Count<ulong>());
        Assert.True(sockets.TryDelete(cookie).IsSuccess);
        Assert.Equal(0, sockets.Count<ulong>());
    }

    [Fact]
    public void Lookup_ValueMirrorOfWrongSize_ThrowsNamingTheMapInsteadOfOverrunning()
    {
        _object.Load();
        var slots = _object.Map("slots");
        // 16 bytes, where conn_slot is larger: the kernel would copy the whole value into it.
        var ex = Assert.Throws<ArgumentException>(() => slots.TryLookup(0u, out RouteBytesPair _));
        Assert.Contains("'slots'", ex.Message);
        Assert.Contains("16-byte values", ex.Message);
    }

    [Fact]
    public void Verdict_PairedSockets_RedirectsClientBytesToBackendAndCounts()
    {
        _object.Load();
        var programMap = _object.Map("sock_ops_map");
        var redirectMap = _object.Map("redirect_map");
        var conns = _object.Map("conns");
        var slots = _object.Map("slots");
        BpfProgram.Attach(_object.ProgramFd("forward_verdict"), programMap.Fd, BPF_SK_SKB_STREAM_VERDICT, "forward_verdict");

        using var client = LoopbackPair.Create();   // client.Client = the user, client.Accepted = proxy's pc
        using var backend = LoopbackPair.Create();  // backend.Client = proxy's pb, backend.Accepted = the backend
        var pc = NativeSocket.GetCookie(client.Accepted.SafeHandle);
        var pb = NativeSocket.GetCookie(backend.Client.SafeHandle);
        conns.Update(pc, new ConnState { PeerCookie = pb, Slot = 0, Route = 3, Direction = 0, Cpu = uint.MaxValue });
        conns.Update(pb, new ConnState { PeerCookie = pc, Slot = 1, Route = 3, Direction = 1, Cpu = uint.MaxValue });
        // Two-map order (docs/design.md, "Sockmap: insertion order"): redirect targets first, then the program map.
        redirectMap.TryInsertSocket(pc, client.Accepted.SafeHandle).ThrowOnError("redirect pc");
        redirectMap.TryInsertSocket(pb, backend.Client.SafeHandle).ThrowOnError("redirect pb");
        programMap.TryInsertSocket(pc, client.Accepted.SafeHandle).ThrowOnError("prog pc");
        programMap.TryInsertSocket(pb, backend.Client.SafeHandle).ThrowOnError("prog pb");

        var payload = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray();
        client.Client.Send(payload);
        var received = ReceiveExactly(backend.Accepted, payload.Length);
        Assert.Equal(payload, received);

        backend.Accepted.Send("pong"u8.ToArray());
        Assert.Equal("pong"u8.ToArray(), ReceiveExactly(client.Client, 4));

        // The forwarder's own mirror (size-tested against the header): a short local copy let the lookup overrun the stack.
        Assert.True(slots.TryLookup(0u, out Yarp.SockmapForwarder.DataPath.Sockmap.ConnSlot slot));
        Assert.Equal((ulong)payload.Length, slot.Redirected);
        var perCpu = RouteBytes(3);
        Assert.Equal(payload.Length, perCpu.ClientToBackend);
        Assert.Equal(4, perCpu.BackendToClient);

        foreach (var cookie in new[] { pc, pb })
        {
            Assert.True(programMap.TryDelete(cookie).IsSuccess);
            Assert.True(redirectMap.TryDelete(cookie).IsSuccess);
            Assert.True(conns.TryDelete(cookie).IsSuccess);
        }
        Assert.Equal(0, programMap.Count<ulong>() + redirectMap.Count<ulong>() + conns.Count<ulong>());

        // Out of the map, the socket is plain again (docs/design.md, "Sockmap: leaving the maps").
        client.Client.Send("plain"u8.ToArray());
        Assert.Equal("plain"u8.ToArray(), ReceiveExactly(client.Accepted, 5));
    }

    private (long ClientToBackend, long BackendToClient) RouteBytes(uint route)
    {
        var cpus = BpfProgram.PossibleCpus();
        var size = Marshal.SizeOf<RouteStats>();
        var buffer = new byte[cpus * size];
        Assert.True(_object.Map("route_stats").TryLookupRaw(route, buffer));
        long c2b = 0, b2c = 0;
        for (var cpu = 0; cpu < cpus; cpu++)
        {
            var s = MemoryMarshal.Read<RouteStats>(buffer.AsSpan(cpu * size));
            c2b += (long)s.Bytes0;
            b2c += (long)s.Bytes1;
        }
        return (c2b, b2c);
    }

    private static byte[] ReceiveExactly(System.Net.Sockets.Socket socket, int length)
    {
        var buffer = new byte[length];
        var n = 0;
        socket.ReceiveTimeout = 10_000;
        while (n < length)
        {
            var r = socket.Receive(buffer, n, length - n, System.Net.Sockets.SocketFlags.None);
            Assert.True(r > 0, $"stream ended after {n} of {length} bytes");
            n += r;
        }
        return buffer;
    }

    public void Dispose() => _object.Dispose();

    // Local mirrors of bpf/sockmap_forward.h for this object-level test (the forwarder has its own, size-tested;
    // conn_slot, which keeps growing, comes from there).
    [StructLayout(LayoutKind.Sequential)]
    private struct ConnState
    {
        public ulong PeerCookie;
        public uint Slot, Route, Direction, Cpu;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RouteBytesPair
    {
        public ulong A, B;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RouteStats
    {
        public ulong Bytes0, Bytes1, Verdicts0, Verdicts1, Passed, RedirectFailed;
    }
}
