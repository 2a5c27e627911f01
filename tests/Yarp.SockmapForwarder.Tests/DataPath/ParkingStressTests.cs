using System.Buffers.Binary;
using System.Net.Sockets;
using BpfSteer.Testing;
using Xunit.Abstractions;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>
/// Sustained parking both ways at once (docs/design.md, "Sockmap: back-pressure and the queue bound" and
/// "Sockmap: overlapping retransmissions"): the receivers are slower than the senders, so the verdict parks most bytes,
/// the small receive windows close and the senders retransmit. A retransmission that overlaps bytes already received
/// used to be forwarded whole by the kernel's tcp_read_skb (one 65,483-byte skb twice in about 1 of 18 runs); the
/// verdict now cuts the seen head off. Streams are self-describing (every 8-byte word is its own offset), so a failure
/// names where and what arrived. Benchmarks' "park-stress" runs the same loop for hundreds of runs.
/// </summary>
[Collection(DataPathCollection.Name)]
public sealed class ParkingStressTests(ForwarderFixture fixture, ITestOutputHelper output)
{
    private const int Size = 64 << 20;
    private const int Runs = 16;

    [Fact]
    public async Task Forward_BothWays64MiBUnderSustainedParking_EveryByteOnceAndInOrder()
    {
        var up = Pattern(0);
        var down = Pattern(1);
        var gotUp = new byte[Size + (4 << 20)];
        var gotDown = new byte[Size + (4 << 20)];
        long parkedBefore = fixture.Forwarder.GetRouteStats(8).ParkedBytes;
        for (var run = 0; run < Runs; run++)
        {
            await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, TcpForwarderMode.Sockmap, maxQueued: 4 << 20, route: 8).DefaultTimeout();
            // Blocking calls on their own threads (as the benchmarks' park-stress does): the tightest send/receive loops,
            // which close the proxy's small receive windows most often and so make the senders retransmit.
            var readUp = OnThread(() => ReadAll(c.Backend, gotUp));
            var readDown = OnThread(() => ReadAll(c.User, gotDown));
            await Task.WhenAll(OnThread(() => SendAll(c.User, up)), OnThread(() => SendAll(c.Backend, down))).DefaultTimeout();
            var lengthUp = await readUp.DefaultTimeout();
            var lengthDown = await readDown.DefaultTimeout();
            var result = await c.Forwarding.DefaultTimeout();
            Assert.True(Describe(gotUp, lengthUp, up) is null, $"run {run}, client to backend: {Describe(gotUp, lengthUp, up)}");
            Assert.True(Describe(gotDown, lengthDown, down) is null, $"run {run}, backend to client: {Describe(gotDown, lengthDown, down)}");
            Assert.Equal((DataPathKind.Sockmap, CloseReason.Completed, (long)Size, (long)Size), (result.Path, result.CloseReason, result.BytesClientToBackend, result.BytesBackendToClient));
        }
        var parked = fixture.Forwarder.GetRouteStats(8).ParkedBytes - parkedBefore;
        output.WriteLine($"{Runs} runs of 64 MiB each way; parked (moved by user space) {parked >> 20} MiB of {2L * Runs * Size >> 20} MiB");
        Assert.True(parked > (long)Runs * Size, "the verdict did not park most of the bytes: the loop did not exercise the bound");
    }

    private static byte[] Pattern(int direction)
    {
        var data = new byte[Size];
        for (var o = 0; o < Size; o += 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(o), (0xA5UL << 56) | ((ulong)direction << 48) | (uint)o);
        }
        return data;
    }

    private static Task<T> OnThread<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }) { IsBackground = true }.Start();
        return done.Task;
    }

    private static bool SendAll(Socket socket, byte[] data)
    {
        for (var sent = 0; sent < data.Length;)
        {
            sent += socket.Send(data, sent, Math.Min(1 << 20, data.Length - sent), SocketFlags.None);
        }
        socket.Shutdown(SocketShutdown.Send);
        return true;
    }

    private static int ReadAll(Socket socket, byte[] buffer)
    {
        var total = 0;
        int n;
        while (total < buffer.Length && (n = socket.Receive(buffer, total, Math.Min(256 << 10, buffer.Length - total), SocketFlags.None)) > 0)
        {
            total += n;
        }
        return total;
    }

    /// <summary>Null when exact; else where the stream first differs and which stream offset arrived there.</summary>
    private static string? Describe(byte[] got, int length, byte[] expected)
    {
        var common = got.AsSpan(0, Math.Min(length, expected.Length)).CommonPrefixLength(expected);
        if (common == expected.Length && length == expected.Length)
        {
            return null;
        }
        // The bytes at the difference come from some stream offset: find the first whole word of the pattern there.
        var source = "unrecognised";
        for (var k = 0; k < 8 && common + k + 8 <= length; k++)
        {
            var word = BinaryPrimitives.ReadUInt64LittleEndian(got.AsSpan(common + k));
            if (word >> 56 == 0xA5 && (word & 7) == 0)
            {
                source = $"stream {(word >> 48) & 0xFF} offset {(long)(word & 0xFFFFFFFFFFFFUL) - k}";
                break;
            }
        }
        return $"received {length} of {expected.Length} bytes; first difference at {common}, where {source} arrived";
    }
}
