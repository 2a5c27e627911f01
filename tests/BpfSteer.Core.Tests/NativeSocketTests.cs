using System.Net;
using System.Net.Sockets;
using BpfSteer.Internal;
using BpfSteer.Interop;
using BpfSteer.Testing;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Core.Tests;

/// <summary>Every socket wrapper exercised on real loopback sockets.</summary>
public class NativeSocketTests
{
    [Fact]
    public void SendReceive_NonBlocking_RoundTripsAndEagainWhenEmpty()
    {
        using var pair = LoopbackPair.Create();
        pair.Accepted.Blocking = false;
        Assert.Equal(5, NativeSocket.TrySend(pair.Client.SafeHandle, "hello"u8).Value);

        var buffer = new byte[16];
        var got = WaitFor(() => NativeSocket.TryReceive(pair.Accepted.SafeHandle, buffer));
        Assert.Equal("hello", System.Text.Encoding.ASCII.GetString(buffer, 0, got.IntValue));
        Assert.Equal(Interop.Errno.EAGAIN, NativeSocket.TryReceive(pair.Accepted.SafeHandle, buffer).Errno);
    }

    [Fact]
    public void QueueSize_UnreadBytes_ReportedBySiocinq()
    {
        using var pair = LoopbackPair.Create();
        pair.Client.Send(new byte[1000]);
        var inq = WaitFor(() => NativeSocket.TryQueueSize(pair.Accepted.SafeHandle, SIOCINQ) is { Value: > 0 } r ? r : PosixResult.FromErrno(Interop.Errno.EAGAIN));
        Assert.Equal(1000, inq.Value);
        Assert.True(NativeSocket.TryQueueSize(pair.Client.SafeHandle, SIOCOUTQ).IsSuccess);
    }

    [Fact]
    public void Shutdown_Write_PeerReadsEndOfStream()
    {
        using var pair = LoopbackPair.Create();
        Assert.True(NativeSocket.TryShutdown(pair.Client.SafeHandle, SHUT_WR).IsSuccess);
        Assert.Equal(0, pair.Accepted.Receive(new byte[1]));
    }

    [Fact]
    public void GetCookie_TwoSockets_DistinctNonZero()
    {
        using var pair = LoopbackPair.Create();
        var a = NativeSocket.GetCookie(pair.Client.SafeHandle);
        var b = NativeSocket.GetCookie(pair.Accepted.SafeHandle);
        Assert.NotEqual(0UL, a);
        Assert.NotEqual(a, b);
        Assert.Equal(a, NativeSocket.GetCookie(pair.Client.SafeHandle));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task GetIncomingCpu_ClientOnCpu_ReportsThatCpu(int cpu)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = await PinnedThread.RunAsync(cpu, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Connect(listener.LocalEndPoint!);
            return s;
        }).DefaultTimeout();
        using var accepted = await listener.AcceptAsync().DefaultTimeout();
        Assert.Equal(cpu, NativeSocket.GetIncomingCpu(accepted.SafeHandle));
    }

    [Fact]
    public void GetTcpInfo_AfterTransfer_CountsAckedAndReceivedBytes()
    {
        using var pair = LoopbackPair.Create();
        // The handshake itself counts (the SYN's sequence number is acknowledged), so compare against a baseline,
        // as the forwarder does when it pairs sockets (docs/design.md, "Sockmap: half-close barrier").
        NativeSocket.TryGetTcpInfo(pair.Client.SafeHandle, out var before).ThrowOnError("TCP_INFO");
        NativeSocket.TryGetTcpInfo(pair.Accepted.SafeHandle, out var serverBefore).ThrowOnError("TCP_INFO");
        pair.Client.Send(new byte[4096]);
        var buffer = new byte[8192];
        var received = 0;
        while (received < 4096)
        {
            received += pair.Accepted.Receive(buffer);
        }
        var info = WaitForTcpInfo(pair.Client, i => i.BytesAcked - before.BytesAcked >= 4096);
        Assert.Equal(1, info.State); // TCP_ESTABLISHED
        Assert.Equal(4096UL, info.BytesAcked - before.BytesAcked);
        Assert.True(NativeSocket.TryGetTcpInfo(pair.Accepted.SafeHandle, out var server).IsSuccess);
        Assert.Equal(4096UL, server.BytesReceived - serverBefore.BytesReceived);
    }

    [Fact]
    public void Splice_SocketToPipeToSocket_MovesBytesWithoutCopyingToUserSpace()
    {
        using var inbound = LoopbackPair.Create();
        using var outbound = LoopbackPair.Create();
        var (read, write) = NativeSocket.CreatePipe();
        using (read)
        using (write)
        {
            var payload = Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray();
            inbound.Client.Send(payload);
            inbound.Accepted.Blocking = false;
            var moved = 0;
            while (moved < payload.Length)
            {
                var into = WaitFor(() => NativeSocket.TrySplice(inbound.Accepted.SafeHandle, write, 65536));
                var outOf = NativeSocket.TrySplice(read, outbound.Client.SafeHandle, into.IntValue);
                Assert.Equal(into.Value, outOf.Value);
                moved += outOf.IntValue;
            }
            var received = new byte[payload.Length];
            var n = 0;
            while (n < received.Length)
            {
                n += outbound.Accepted.Receive(received, n, received.Length - n, SocketFlags.None);
            }
            Assert.Equal(payload, received);
        }
    }

    [Fact]
    public void Epoll_ReadableSocketAndWake_ReportedWithTheirTokens()
    {
        using var epoll = new Epoll();
        using var pair = LoopbackPair.Create();
        epoll.Add(pair.Accepted.SafeHandle, EPOLLIN | EPOLLRDHUP, 42);
        var events = new EpollEvent[4];
        Assert.Equal(0, epoll.Wait(events, 0));

        pair.Client.Send("x"u8.ToArray());
        Assert.Equal(1, epoll.Wait(events, 5000));
        Assert.Equal(42UL, events[0].Data);
        Assert.NotEqual(0u, events[0].Events & EPOLLIN);

        pair.Accepted.Receive(new byte[1]);
        epoll.Wake();
        Assert.Equal(1, epoll.Wait(events, 5000));
        Assert.Equal(Epoll.WakeToken, events[0].Data);
        epoll.ResetWake();

        pair.Client.Shutdown(SocketShutdown.Send);
        Assert.Equal(1, epoll.Wait(events, 5000));
        Assert.NotEqual(0u, events[0].Events & EPOLLRDHUP);
        Assert.True(epoll.Remove(pair.Accepted.SafeHandle).IsSuccess);
        Assert.Equal(Interop.Errno.ENOENT, epoll.Remove(pair.Accepted.SafeHandle).Errno);
    }

    [Fact]
    public void TryAccept_EmptyQueueThenPending_EagainThenNonBlockingDescriptor()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        listener.Blocking = false; // .NET leaves a sync-only socket's fd blocking; the transport's listeners are non-blocking
        Assert.Equal(Interop.Errno.EAGAIN, NativeSocket.TryAccept(listener.SafeHandle, out var none).Errno);
        Assert.Null(none);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        Assert.True(listener.Poll(TimeSpan.FromSeconds(5), SelectMode.SelectRead));
        var r = NativeSocket.TryAccept(listener.SafeHandle, out var accepted);
        using (accepted)
        {
            Assert.True(r.IsSuccess, r.ToString());
            Assert.Equal(Interop.Errno.EAGAIN, NativeSocket.TryReceive(accepted!, new byte[1]).Errno); // SOCK_NONBLOCK
        }
    }

    private static PosixResult WaitFor(Func<PosixResult> call)
    {
        var deadline = Environment.TickCount64 + 5000;
        while (true)
        {
            var r = call();
            if (r.Errno != Interop.Errno.EAGAIN || Environment.TickCount64 > deadline)
            {
                return r;
            }
            Thread.Sleep(1);
        }
    }

    private static TcpInfo WaitForTcpInfo(Socket socket, Func<TcpInfo, bool> done)
    {
        var deadline = Environment.TickCount64 + 5000;
        TcpInfo info;
        do
        {
            NativeSocket.TryGetTcpInfo(socket.SafeHandle, out info).ThrowOnError("TCP_INFO");
        }
        while (!done(info) && Environment.TickCount64 < deadline && Sleep());
        return info;
    }

    private static bool Sleep()
    {
        Thread.Sleep(1);
        return true;
    }
}
