using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using BpfSteer;
using BpfSteer.Transport;
using Microsoft.AspNetCore.Connections;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// ISocketHandoffFeature: the forwarder takes the socket over from the worker. Every byte the client sends, before and
/// after the hand-off, arrives exactly once; bytes the app wrote before detaching are sent first.
/// </summary>
public class SocketHandoffTests
{
    private const int Consumed = 4;

    [Theory]
    [InlineData(ApplicationScheduling.ThreadPool)]
    [InlineData(ApplicationScheduling.Inline)] // DetachAsync then runs on the worker thread itself
    public async Task DetachAsync_BytesBeforeAndAfter_ArriveExactlyOnce(ApplicationScheduling scheduling)
    {
        var part1 = TestApp.Pattern(50_000);
        var part2 = Enumerable.Range(0, 300_000).Select(i => (byte)(i % 251)).ToArray();
        var serverResult = new TaskCompletionSource<(int Buffered, string Hash, long Total)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.ApplicationScheduling = scheduling, kestrel: k => k.Listen(IPAddress.Loopback, 0,
            l => l.Run(async connection =>
            {
                try
                {
                    serverResult.TrySetResult(await TakeOverAsync(connection));
                }
                catch (Exception ex)
                {
                    serverResult.TrySetException(ex);
                }
            })));

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, app.Port).DefaultTimeout();
        await client.SendAsync(part1).DefaultTimeout();

        // "pre" was written through the pipe before the detach, "D" on the raw socket after it: order proves the drain.
        var signal = await ReceiveExactlyAsync(client, 4);
        Assert.Equal("preD", Encoding.ASCII.GetString(signal));
        await client.SendAsync(part2).DefaultTimeout();
        client.Shutdown(SocketShutdown.Send);

        var (buffered, hash, total) = await serverResult.Task.DefaultTimeout();
        var expected = part1.Skip(Consumed).Concat(part2).ToArray();
        Assert.Equal(expected.Length, total);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(expected)), hash);
        Assert.InRange(buffered, 6, part1.Length - Consumed); // some bytes were read by the worker and came back
        app.Errors.AssertNoErrors();
    }

    [Fact]
    public async Task DetachAsync_Twice_Throws()
    {
        var second = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, kestrel: k => k.Listen(IPAddress.Loopback, 0,
            l => l.Run(async connection =>
            {
                var feature = connection.Features.Get<ISocketHandoffFeature>()!;
                using var first = await feature.DetachAsync();
                try
                {
                    await feature.DetachAsync();
                    second.TrySetResult(null);
                }
                catch (Exception ex)
                {
                    second.TrySetResult(ex);
                }
            })));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, app.Port).DefaultTimeout();
        Assert.IsType<InvalidOperationException>(await second.Task.DefaultTimeout());
    }

    /// <summary>Reads at least 10 bytes, consumes 4 of them, writes "pre", detaches, then reads the rest from the socket.</summary>
    private static async Task<(int, string, long)> TakeOverAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        while (true)
        {
            var read = await input.ReadAsync();
            if (read.Buffer.Length >= 10)
            {
                input.AdvanceTo(read.Buffer.GetPosition(Consumed), read.Buffer.End);
                break;
            }
            input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
        await connection.Transport.Output.WriteAsync("pre"u8.ToArray());

        var feature = connection.Features.Get<ISocketHandoffFeature>()!;
        using var handoff = await feature.DetachAsync();
        var socket = handoff.Socket;
        await socket.SendAsync("D"u8.ToArray());

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(handoff.BufferedData.Span);
        long total = handoff.BufferedData.Length;
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await socket.ReceiveAsync(buffer)) > 0)
        {
            sha.AppendData(buffer, 0, n);
            total += n;
        }
        return (handoff.BufferedData.Length, Convert.ToHexString(sha.GetHashAndReset()), total);
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var data = new byte[count];
        var got = 0;
        while (got < count)
        {
            var n = await socket.ReceiveAsync(data.AsMemory(got)).DefaultTimeout();
            Assert.True(n > 0, "connection closed early");
            got += n;
        }
        return data;
    }
}
