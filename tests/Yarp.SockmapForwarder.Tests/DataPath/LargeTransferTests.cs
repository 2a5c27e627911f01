using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using BpfSteer.Testing;
using Xunit.Abstractions;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>1 GiB each way at the same time through the sockmap path (once), and a smaller run on user space.</summary>
[Collection(DataPathCollection.Name)]
public sealed class LargeTransferTests(ForwarderFixture fixture, ITestOutputHelper output)
{
    [Theory]
    [InlineData(TcpForwarderMode.Sockmap, 1024)]
    [InlineData(TcpForwarderMode.UserSpace, 256)]
    public async Task Forward_LargeBothWaysAtOnce_ByteExactByHash(TcpForwarderMode mode, int mebibytes)
    {
        // Both paths with a 4 MiB queue bound: on sockmap a bulk stream parks most of its bytes, the small receive
        // windows make the senders retransmit, and the verdict must cut retransmitted heads (docs/design.md,
        // "Sockmap: overlapping retransmissions").
        await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, mode, maxQueued: 4L << 20, route: 6).DefaultTimeout();
        var size = (long)mebibytes << 20;
        var clock = Stopwatch.StartNew();
        var readUp = Task.Run(() => ProxiedConnection.HashToEndAsync(c.Backend));
        var readDown = Task.Run(() => ProxiedConnection.HashToEndAsync(c.User));
        var sendUp = Task.Run(() => SendStream(c.User, size, seed: 1));
        var sendDown = Task.Run(() => SendStream(c.Backend, size, seed: 2));
        var timeout = TimeSpan.FromSeconds(120);
        var upHash = await sendUp.WithTimeout(timeout);
        var downHash = await sendDown.WithTimeout(timeout);
        var up = await readUp.WithTimeout(timeout);
        var down = await readDown.WithTimeout(timeout);
        var result = await c.Forwarding.DefaultTimeout();
        output.WriteLine($"{mode}: {mebibytes} MiB each way in {clock.Elapsed.TotalSeconds:F1} s; parked bytes on the route: {fixture.Forwarder.GetRouteStats(6).ParkedBytes}");
        Assert.Equal(size, up.Length);
        Assert.Equal(upHash, up.Hash);
        Assert.Equal(size, down.Length);
        Assert.Equal(downHash, down.Hash);
        Assert.Equal(mode == TcpForwarderMode.Sockmap ? DataPathKind.Sockmap : DataPathKind.UserSpace, result.Path);
        Assert.Equal((size, size, CloseReason.Completed), (result.BytesClientToBackend, result.BytesBackendToClient, result.CloseReason));
    }

    /// <summary>Sends <paramref name="size"/> pseudo-random bytes, half-closes, returns their SHA-256.</summary>
    private static async Task<byte[]> SendStream(Socket socket, long size, int seed)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new Random(seed);
        var chunk = new byte[1 << 20];
        for (long sent = 0; sent < size; sent += chunk.Length)
        {
            random.NextBytes(chunk);
            sha.AppendData(chunk);
            await ProxiedConnection.SendAllAsync(socket, chunk);
        }
        socket.Shutdown(SocketShutdown.Send);
        return sha.GetHashAndReset();
    }
}
