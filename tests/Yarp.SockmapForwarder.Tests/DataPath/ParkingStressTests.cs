using System.Buffers.Binary;
using System.Net.Sockets;
using BpfSteer.Testing;
using Xunit.Abstractions;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>
/// Sustained parking both ways at once (DataPath/README.md, "Bounded memory"): the receivers are slower than the
/// senders, so the verdict parks most bytes, the small receive windows close and the senders retransmit. A
/// retransmission that overlaps bytes already received used to be forwarded whole by the kernel's tcp_read_skb
/// (one 65,483-byte skb twice in about 1 of 18 runs); the verdict now cuts the seen head off. Streams are
/// self-describing (every 8-byte word is its own offset), so a failure names where and what arrived.
/// Benchmarks' "park-stress" runs the same loop for hundreds of runs.
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
            var readUp = Task.Run(() => ReadAll(c.Backend, gotUp));
            var readDown = Task.Run(() => ReadAll(c.User, gotDown));
            await Task.WhenAll(
                Task.Run(async () => { await ProxiedConnection.SendAllAsync(c.User, up); c.User.Shutdown(SocketShutdown.Send); }),
                Task.Run(async () => { await ProxiedConnection.SendAllAsync(c.Backend, down); c.Backend.Shutdown(SocketShutdown.Send); })).DefaultTimeout();
            var lengthUp = await readUp.DefaultTimeout();
            var lengthDown = await readDown.DefaultTimeout();
            var result = await c.Forwarding.DefaultTimeout();
            Assert.True(Describe(gotUp, lengthUp, up) is null, $"run {run}, client to backend: {Describe(gotUp, lengthUp, up)}");
            Assert.True(Describe(gotDown, lengthDown, down) is null, $"run {run}, backend to client: {Describe(gotDown, lengthDown, down)}");
            Assert.Equal(("Sockmap", "completed", (long)Size, (long)Size), (result.Path, result.CloseReason, result.BytesClientToBackend, result.BytesBackendToClient));
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

    private static async Task<int> ReadAll(Socket socket, byte[] buffer)
    {
        var total = 0;
        int n;
        while (total < buffer.Length && (n = await socket.ReceiveAsync(buffer.AsMemory(total, Math.Min(256 << 10, buffer.Length - total)), SocketFlags.None)) > 0)
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
        var aligned = common & ~7;
        var word = aligned + 8 <= length ? BinaryPrimitives.ReadUInt64LittleEndian(got.AsSpan(aligned)) : 0;
        return $"received {length} of {expected.Length} bytes; first difference at {common}; the word at {aligned} is 0x{word:x16} " +
            $"(stream {(word >> 48) & 0xFF}, offset {word & 0xFFFFFFFFFFFFUL})";
    }
}
