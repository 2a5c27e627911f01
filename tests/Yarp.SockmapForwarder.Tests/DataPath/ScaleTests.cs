using System.Net.Sockets;
using System.Security.Cryptography;
using BpfSteer.Testing;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>Many connections: concurrency with random sizes and pacing, and churn that must leave nothing behind.</summary>
[Collection(DataPathCollection.Name)]
public sealed class ScaleTests(ForwarderFixture fixture)
{
    public static TheoryData<TcpForwarderMode> BothPaths => IntegrityTests.BothPaths;

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task Forward_200ConcurrentRandomSizesAndPacing_AllByteExact(TcpForwarderMode mode)
    {
        var tasks = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            var random = new Random(i);
            var up = RandomNumberGenerator.GetBytes(random.Next(1, 2 << 20));
            var down = RandomNumberGenerator.GetBytes(random.Next(1, 1 << 20));
            await using var c = await ProxiedConnection.StartAsync(fixture.Forwarder, mode, route: 3);
            var readUp = ProxiedConnection.HashToEndAsync(c.Backend);
            var readDown = ProxiedConnection.HashToEndAsync(c.User);
            await Task.WhenAll(Paced(c.User, up, random.Next()), Paced(c.Backend, down, random.Next()));
            var (upHash, upLength) = await readUp;
            var (downHash, downLength) = await readDown;
            var result = await c.Forwarding;
            Assert.Equal(up.Length, upLength);
            Assert.Equal(SHA256.HashData(up), upHash);
            Assert.Equal(down.Length, downLength);
            Assert.Equal(SHA256.HashData(down), downHash);
            Assert.Equal(CloseReason.Completed, result.CloseReason);
            return result.Path;
        })).ToArray();
        var paths = await Task.WhenAll(tasks).WithTimeout(TimeSpan.FromSeconds(90));
        if (mode == TcpForwarderMode.UserSpace)
        {
            Assert.All(paths, p => Assert.Equal(DataPathKind.UserSpace, p));
        }
        else
        {
            // A connection whose peer finished before pairing legitimately falls back: a socket in CLOSE_WAIT cannot
            // enter a sockmap (docs/design.md, "Sockmap: only established sockets enter").
            Assert.True(paths.Count(p => p == DataPathKind.Sockmap) >= 150, $"{paths.Count(p => p == DataPathKind.Sockmap)} of 200 on sockmap");
        }
        AssertMapsEmpty();
    }

    [Fact]
    public async Task Forward_10000ShortConnections_NoMapEntriesNoFdGrowth()
    {
        var fdsBefore = OpenFds();
        var workers = Enumerable.Range(0, 32).Select(w => Task.Run(async () =>
        {
            using var clientListener = ProxiedConnection.Listen();
            using var backendListener = ProxiedConnection.Listen();
            var paths = new List<DataPathKind>();
            for (var i = w; i < 10_000; i += 32)
            {
                using var user = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await user.ConnectAsync(clientListener.LocalEndPoint!);
                var pc = await clientListener.AcceptAsync();
                var pb = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await pb.ConnectAsync(backendListener.LocalEndPoint!);
                using var backend = await backendListener.AcceptAsync();
                var forwarding = fixture.Forwarder.ForwardAsync(new Yarp.SockmapForwarder.DataPath.ForwardingRequest
                {
                    Route = TestRoutes.Config("churn", TcpForwarderMode.Sockmap, TimeSpan.FromSeconds(30), 4 << 20), RouteIndex = 4,
                    ClientSocket = pc, Backend = pb,
                }, CancellationToken.None);
                // A 1 KiB request and its reply, then both close: the short-connection pattern that must leave no map
                // entry behind (docs/design.md, "Sockmap: leaving the maps").
                var request = new byte[1024];
                request[0] = (byte)i;
                await user.SendAsync(request, SocketFlags.None);
                var got = await ProxiedConnection.ReadExactlyAsync(backend, 1024);
                await backend.SendAsync(got, SocketFlags.None);
                Assert.Equal(request, await ProxiedConnection.ReadExactlyAsync(user, 1024));
                user.Shutdown(SocketShutdown.Send);
                Assert.Empty(await ProxiedConnection.ReadToEndAsync(backend));
                backend.Shutdown(SocketShutdown.Send);
                Assert.Empty(await ProxiedConnection.ReadToEndAsync(user));
                var result = await forwarding;
                Assert.Equal(CloseReason.Completed, result.CloseReason);
                paths.Add(result.Path);
            }
            return paths;
        })).ToArray();
        var all = (await Task.WhenAll(workers).WithTimeout(TimeSpan.FromSeconds(150))).SelectMany(p => p).ToArray();
        Assert.Equal(10_000, all.Length);
        Assert.True(all.Count(p => p == DataPathKind.Sockmap) > 9_000, $"{all.Count(p => p == DataPathKind.Sockmap)} of 10,000 on sockmap");
        AssertMapsEmpty();
        // Threads, sockets and pipes all closed: the fd table is back where it started (a little slack for the runtime).
        Assert.InRange(OpenFds() - fdsBefore, -64, 16);
    }

    private void AssertMapsEmpty()
    {
        var engine = fixture.Forwarder.Engine!;
        for (var i = 0; i < 200 && engine.ActiveConnections > 0; i++)
        {
            Thread.Sleep(10);
        }
        Assert.Equal(0, engine.ActiveConnections);
        Assert.Equal(0, engine.ProgramMap.Count<ulong>());
        Assert.Equal(0, engine.RedirectMap.Count<ulong>());
        Assert.Equal(0, engine.Conns.Count<ulong>());
    }

    private static int OpenFds() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>Sends in random chunks with random pauses, then half-closes.</summary>
    private static async Task Paced(Socket socket, byte[] data, int seed)
    {
        var random = new Random(seed);
        var offset = 0;
        while (offset < data.Length)
        {
            var n = Math.Min(data.Length - offset, random.Next(1, 256 * 1024));
            await ProxiedConnection.SendAllAsync(socket, data.AsMemory(offset, n));
            offset += n;
            if (random.Next(4) == 0)
            {
                await Task.Delay(random.Next(0, 5));
            }
        }
        socket.Shutdown(SocketShutdown.Send);
    }
}
