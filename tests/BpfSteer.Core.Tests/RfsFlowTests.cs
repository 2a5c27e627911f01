using System.Net.Sockets;
using BpfSteer.Internal;
using BpfSteer.Interop;

namespace BpfSteer.Core.Tests;

/// <summary>The RFS flow record (getsockopt TCP_ZEROCOPY_RECEIVE at address 0) must have no effect on the socket.</summary>
public sealed class RfsFlowTests
{
    [Theory]
    [InlineData(10)]        // under a page: the kernel returns 0
    [InlineData(100_000)]   // a page or more: EINVAL from the address check, after the record
    public void TryRecord_BytesQueued_SucceedsAndConsumesNothing(int queued)
    {
        using var pair = LoopbackPair.Create();
        var data = new byte[queued];
        Random.Shared.NextBytes(data);
        var sent = 0;
        while (sent < data.Length)
        {
            sent += pair.Client.Send(data, sent, data.Length - sent, SocketFlags.None);
        }
        WaitQueued(pair.Accepted, queued);
        Assert.True(RfsFlow.TryRecord(pair.Accepted.SafeHandle).IsSuccess);
        Assert.Equal(queued, pair.Accepted.Available);
        var got = new byte[queued];
        var n = 0;
        while (n < queued)
        {
            n += pair.Accepted.Receive(got, n, queued - n, SocketFlags.None);
        }
        Assert.Equal(data, got);
    }

    [Fact]
    public void TryRecord_PendingReset_SocketErrorStaysForTheEngine()
    {
        using var pair = LoopbackPair.Create();
        pair.Client.LingerState = new LingerOption(true, 0);
        pair.Client.Close(); // RST
        var deadline = Environment.TickCount64 + 5000;
        while (!ResetSeen(pair.Accepted) && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(1);
        }
        RfsFlow.TryRecord(pair.Accepted.SafeHandle);
        // The zero-length send the record replaces would have returned (and cleared) it here.
        Assert.Equal(Errno.ECONNRESET, NativeSocket.TryGetInt(pair.Accepted.SafeHandle, Libc.SOL_SOCKET, Libc.SO_ERROR).IntValue);
    }

    [Fact]
    public void TryRecordBySend_PendingReset_ClearsTheSocketError()
    {
        using var pair = LoopbackPair.Create();
        pair.Client.LingerState = new LingerOption(true, 0);
        pair.Client.Close();
        var deadline = Environment.TickCount64 + 5000;
        while (!ResetSeen(pair.Accepted) && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(1);
        }
        Assert.Equal(Errno.ECONNRESET, RfsFlow.TryRecordBySend(pair.Accepted.SafeHandle).Errno);
        Assert.Equal(0, NativeSocket.TryGetInt(pair.Accepted.SafeHandle, Libc.SOL_SOCKET, Libc.SO_ERROR).IntValue);
    }

    /// <summary>The RST has been processed (the socket is readable with an error) without reading SO_ERROR.</summary>
    private static bool ResetSeen(Socket socket) => socket.Poll(0, SelectMode.SelectError) || socket.Poll(0, SelectMode.SelectRead);

    private static void WaitQueued(Socket socket, int bytes)
    {
        var deadline = Environment.TickCount64 + 5000;
        while (socket.Available < bytes && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(1);
        }
        Assert.Equal(bytes, socket.Available);
    }
}
