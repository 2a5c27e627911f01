using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using BpfSteer.Testing;
using ProxyHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ProxyHost.Tests;

/// <summary>
/// The sockmap path's two memory bounds under attack and stall, on a real ProxyHost process (docs/design.md,
/// "Sockmap: back-pressure and the queue bound"): the bytes the kernel holds outside any socket's accounting (redirected, not yet
/// in a send queue) never exceed the process budget, read from the forwarder's own counters and cross-checked against
/// /proc/meminfo; and once the readers read again, every byte arrives (SHA-256).
/// </summary>
[Collection(ProxyHostCollection.Name)]
public sealed class KernelQueueBoundTests(ITestOutputHelper output)
{
    /// <summary>A verdict adds its skb after the check: two CPUs can each overshoot by one coalesced skb.</summary>
    private const long BudgetSlack = 1L << 20;

    /// <summary>
    /// For the /proc/meminfo cross-check: what the kernel takes for 4,000 sockets besides the TCP memory it charges (socket
    /// structs, skb heads, sk_msg structs of parked bytes). Without the bounds the backlog took gigabytes (2.5 GB in 7 s
    /// with 20 readers that never read).
    /// </summary>
    private const long MemSlack = 512L << 20;

    /// <summary>
    /// Auto, as a user configures it: the streams start on the relay and stay there while their readers hold them back (a
    /// relay holding unwritten bytes is not moved), so the kernel queue stays small. Sockmap: every stream is in the kernel
    /// path from the start, and the budget is what holds 1,000 of them back.
    /// </summary>
    [Theory]
    [InlineData("Auto")]
    [InlineData("Sockmap")]
    public async Task Route_ThousandClientsNeverReadWhileBackendStreams_KernelQueueWithinBudgetThenEveryByteArrives(string mode)
    {
        const int Clients = 1000;
        const int StreamBytes = 2 << 20; // more than a reader that never reads lets the proxy buffer
        const long Budget = 8L << 20; // the smallest budget: 1,000 backends streaming at once use it up
        using var backend = new StreamingBackend(StreamBytes);
        using var config = new TempConfig($$"""
            {
              "Kestrel": { "Endpoints": { "Http": { "Url": "http://127.0.0.1:0" } } },
              "BpfSteer": { "Forwarder": { "KernelQueueBudget": {{Budget}} } },
              "ReverseProxy": {
                "TcpRoutes": { "stream": { "Listen": "127.0.0.1:0", "ClusterId": "stream", "Mode": "{{mode}}", "MaxQueuedBytes": 1048576 } },
                "Clusters": { "stream": { "Destinations": { "b": { "Address": "tcp://{{backend.EndPoint}}" } } } }
              }
            }
            """);
        await using var host = await ProxyHostProcess.StartAsync(["--config", config.Path]);
        var route = host.TcpRoutes["stream"];

        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                clients.Add(s);
                await s.ConnectAsync(route).DefaultTimeout();
            }
            for (var waited = 0; backend.Accepted < Clients; waited += 100)
            {
                Assert.True(waited < 60_000, $"only {backend.Accepted} of {Clients} connections reached the backend in 60 s");
                await Task.Delay(100).DefaultTimeout();
            }
            // Every connection is set up: from here on the kernel's memory grows only with the bytes in flight.
            await Task.Delay(500).DefaultTimeout();
            var memBefore = Meminfo.Read();
            for (var i = 0; i < Clients; i++)
            {
                await clients[i].SendAsync(BitConverter.GetBytes(i)).DefaultTimeout(); // the backend seeds the stream with it
            }

            // Nobody reads for 5 s while every backend streams: the bytes must wait in charged socket buffers or park, and the
            // uncharged backlog must stay within the budget the whole time. On sockmap the watch goes on (30 s at most) until
            // the budget has filled and held a connection back, or the backend has sent everything: on a slow run the
            // backend had sent only 1,422 of its 2,000 MiB after 5 s, and the readers' buffers had taken it all.
            var total = (long)Clients * StreamBytes;
            var watch = await WatchAsync(host, TimeSpan.FromSeconds(5), memBefore, mode != "Sockmap" ? null
                : w => (w.MaxUsed < Budget - BudgetSlack || w.MaxHeldBack < 1) && backend.Sent < total);
            output.WriteLine(watch.ToString() + $"; the backend sent {backend.Sent >> 20} MiB");
            output.WriteLine(Infrastructure.Clients.Route(await Infrastructure.Clients.StatusAsync(host.AdminUrl), "stream").ToString());
            Assert.InRange(watch.MaxUsed, 0, Budget + BudgetSlack);
            Assert.InRange(watch.Uncharged, long.MinValue, Budget + MemSlack);
            if (mode == "Sockmap")
            {
                // Here the test must reach the budget, or it shows nothing: 1,000 streams of 2 MiB are more than the readers'
                // send queues (charged to their sockets) take, so the budget fills and holds the rest back (parked, charged
                // to the sources).
                Assert.True(watch.MaxUsed >= Budget - BudgetSlack, $"the budget was never used up ({watch.MaxUsed >> 10} KiB of {Budget >> 10} KiB)");
                Assert.True(watch.MaxHeldBack >= 1, "no connection was ever held back by the budget");
            }

            // The readers read: every stream arrives whole.
            var reads = clients.Select((s, i) => ReadAndHashAsync(s, StreamBytes)).ToArray();
            var results = await Task.WhenAll(reads).WithTimeout(TimeSpan.FromSeconds(120));
            for (var i = 0; i < Clients; i++)
            {
                Assert.True(results[i].Length == StreamBytes, $"client {i}: {results[i].Length} of {StreamBytes} bytes");
                Assert.True(results[i].Hash.AsSpan().SequenceEqual(StreamingBackend.ExpectedHash(i, StreamBytes)), $"client {i}: content differs");
            }
        }
        finally
        {
            clients.ForEach(s => s.Dispose());
        }

        // Every connection's share leaves the budget with it.
        var status = await Infrastructure.Clients.WaitForStatusAsync(host.AdminUrl,
            s => Infrastructure.Clients.Route(s, "stream").GetProperty("activeConnections").GetInt64() == 0
                && s.GetProperty("forwarder").GetProperty("kernelQueue").GetProperty("usedBytes").GetInt64() == 0,
            "every connection closed and the budget back at 0");
        var queue = status.GetProperty("forwarder").GetProperty("kernelQueue");
        output.WriteLine(queue.ToString());
        Assert.InRange(queue.GetProperty("peakBytes").GetInt64(), 0, Budget + BudgetSlack);
        Assert.Equal(Budget, queue.GetProperty("budgetBytes").GetInt64());
        // Parks are counted per route when their connections finish, by reason.
        var parks = Infrastructure.Clients.Route(status, "stream").GetProperty("kernelQueue").GetProperty("parks");
        output.WriteLine(parks.ToString());
        Assert.True(queue.GetProperty("budgetParks").GetInt64() >= parks.GetProperty("budget").GetInt64(), "the forwarder counted fewer budget parks than the route");
        if (mode == "Sockmap")
        {
            Assert.True(parks.GetProperty("budget").GetInt64() >= 1, "the route counted no budget park");
        }
        host.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task AutoRoute_BackendStoppedFor10sUnderBulkUpload_KernelQueueBoundedThenEveryByteArrives()
    {
        var file = Path.Combine(Path.GetTempPath(), $"bpfsteer-upload-{Guid.NewGuid():N}");
        var port = FreePort();
        // A real backend process that writes what it receives to a file; SIGSTOP freezes it like a stuck server.
        using var sink = Process.Start(new ProcessStartInfo("socat", ["-u", $"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr", $"CREATE:{file}"])
        {
            RedirectStandardError = true,
        })!;
        try
        {
            await WaitForListenerAsync(port);
            using var config = new TempConfig($$"""
                {
                  "Kestrel": { "Endpoints": { "Http": { "Url": "http://127.0.0.1:0" } } },
                  "ReverseProxy": {
                    "TcpRoutes": { "upload": { "Listen": "127.0.0.1:0", "ClusterId": "upload", "Mode": "Auto" } },
                    "Clusters": { "upload": { "Destinations": { "b": { "Address": "tcp://127.0.0.1:{{port}}" } } } }
                  }
                }
                """);
            await using var host = await ProxyHostProcess.StartAsync(["--config", config.Path]);
            var status0 = await Infrastructure.Clients.StatusAsync(host.AdminUrl);
            var budget = status0.GetProperty("forwarder").GetProperty("kernelQueue").GetProperty("budgetBytes").GetInt64();
            var maxQueued = 32L << 20; // the route default

            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(host.TcpRoutes["upload"]).DefaultTimeout();
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long sent = 0;
            using var stop = new CancellationTokenSource();
            var upload = Task.Run(async () =>
            {
                var chunk = new byte[256 * 1024];
                var random = new Random(7);
                while (!stop.IsCancellationRequested)
                {
                    random.NextBytes(chunk);
                    for (var off = 0; off < chunk.Length;)
                    {
                        off += await client.SendAsync(chunk.AsMemory(off), SocketFlags.None);
                    }
                    sha.AppendData(chunk);
                    Interlocked.Add(ref sent, chunk.Length);
                }
                client.Shutdown(SocketShutdown.Send);
            });

            await Task.Delay(1000); // bulk flows first
            var memBefore = Meminfo.Read();
            Signal(sink.Id, "STOP");
            var watch = await WatchAsync(host, TimeSpan.FromSeconds(10), memBefore);
            var pushedWhileStopped = Interlocked.Read(ref sent);
            Signal(sink.Id, "CONT");
            output.WriteLine(watch + $", client had sent {pushedWhileStopped >> 20} MiB when the backend continued");
            var route = Infrastructure.Clients.Route(await Infrastructure.Clients.StatusAsync(host.AdminUrl), "upload");
            Assert.Equal("Sockmap", route.GetProperty("mode").GetString());
            Assert.InRange(watch.MaxUsed, 0, budget + BudgetSlack);
            Assert.InRange(route.GetProperty("kernelQueue").GetProperty("largestBacklogBytes").GetInt64(), 0, maxQueued + BudgetSlack);
            Assert.InRange(watch.Uncharged, long.MinValue, budget + MemSlack);
            Assert.True(watch.MaxParked >= 1, "the stall never made the upload park");

            await Task.Delay(2000);
            stop.Cancel();
            await upload.WithTimeout(TimeSpan.FromSeconds(60));
            await sink.WaitForExitAsync().WithTimeout(TimeSpan.FromSeconds(120)); // socat exits at the end of the upload
            var total = Interlocked.Read(ref sent);
            Assert.Equal(total, new FileInfo(file).Length);
            await using (var f = File.OpenRead(file))
            {
                Assert.Equal(sha.GetHashAndReset(), await SHA256.HashDataAsync(f).DefaultTimeout());
            }
            host.AssertNoErrorsLogged();
        }
        finally
        {
            if (!sink.HasExited)
            {
                Signal(sink.Id, "CONT");
                sink.Kill();
            }
            File.Delete(file);
        }
    }

    private sealed record Watch(long MaxUsed, int MaxParked, int MaxHeldBack, long Uncharged)
    {
        public override string ToString() =>
            $"budget used at most {MaxUsed >> 10} KiB, parked connections at most {MaxParked}, held back at most {MaxHeldBack}, " +
            $"kernel memory growth not charged to TCP at most {Uncharged >> 20} MiB";
    }

    /// <summary>
    /// Samples the status and the kernel's memory every 200 ms for <paramref name="duration"/>, then, while
    /// <paramref name="longerWhile"/> holds for what was seen so far, up to six times as long.
    /// </summary>
    private static async Task<Watch> WatchAsync(ProxyHostProcess host, TimeSpan duration, Meminfo before, Func<Watch, bool>? longerWhile = null)
    {
        long maxUsed = 0, uncharged = long.MinValue;
        int maxParked = 0, maxHeld = 0;
        var start = DateTime.UtcNow;
        while (true)
        {
            var status = await Infrastructure.Clients.StatusAsync(host.AdminUrl);
            maxUsed = Math.Max(maxUsed, status.GetProperty("forwarder").GetProperty("kernelQueue").GetProperty("usedBytes").GetInt64());
            foreach (var r in status.GetProperty("routes").EnumerateArray())
            {
                var q = r.GetProperty("kernelQueue");
                maxParked = Math.Max(maxParked, q.GetProperty("parkedConnections").GetInt32());
                maxHeld = Math.Max(maxHeld, q.GetProperty("heldBackByBudget").GetInt32());
            }
            var now = Meminfo.Read();
            uncharged = Math.Max(uncharged, (now.Kernel - before.Kernel) - (now.TcpBytes - before.TcpBytes));
            var elapsed = DateTime.UtcNow - start;
            if (elapsed >= duration && (longerWhile is null || elapsed >= duration * 6 || !longerWhile(new Watch(maxUsed, maxParked, maxHeld, uncharged))))
            {
                return new Watch(maxUsed, maxParked, maxHeld, uncharged);
            }
            await Task.Delay(200);
        }
    }

    private static async Task<(long Length, byte[] Hash)> ReadAndHashAsync(Socket socket, int expected)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long length = 0;
        int n;
        while ((n = await socket.ReceiveAsync(buffer)) > 0)
        {
            sha.AppendData(buffer, 0, n);
            length += n;
        }
        return (length, sha.GetHashAndReset());
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString()])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private static async Task WaitForListenerAsync(int port)
    {
        for (var i = 0; i < 100; i++)
        {
            if (File.ReadLines("/proc/net/tcp").Skip(1).Any(l => l.Contains($":{port:X4} 00000000:0000 0A", StringComparison.Ordinal)))
            {
                return;
            }
            await Task.Delay(50);
        }
        Assert.Fail($"socat never listened on port {port}");
    }

    /// <summary>
    /// The kernel's own memory from /proc/meminfo — everything that is neither free, nor page cache, nor a process's anonymous
    /// memory, nor reclaimable slab (so builds and heaps elsewhere on the machine do not count) — and the TCP memory the
    /// kernel charges to sockets (/proc/net/sockstat "TCP: ... mem N", in pages). What grows in the first and not in the
    /// second is memory no socket is charged for, which is where an unbounded redirect backlog would show.
    /// </summary>
    private sealed record Meminfo(long Kernel, long TcpBytes)
    {
        public static Meminfo Read()
        {
            var m = File.ReadLines("/proc/meminfo").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .ToDictionary(f => f[0].TrimEnd(':'), f => long.Parse(f[1]) * 1024);
            var kernel = m["MemTotal"] - m["MemFree"] - m["Buffers"] - m["Cached"] - m["SwapCached"] - m["AnonPages"] - m["SReclaimable"];
            var tcp = File.ReadLines("/proc/net/sockstat").First(l => l.StartsWith("TCP:", StringComparison.Ordinal))
                .Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var pages = long.Parse(tcp[Array.IndexOf(tcp, "mem") + 1]);
            return new Meminfo(kernel, pages * Environment.SystemPageSize);
        }
    }

    /// <summary>
    /// A backend that reads a 4-byte client number from each connection and answers with that client's deterministic
    /// stream (see <see cref="Fill"/>), then closes its sending side.
    /// </summary>
    private sealed class StreamingBackend : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly CancellationTokenSource _stop = new();
        private readonly int _bytes;
        private int _accepted;

        public StreamingBackend(int bytes)
        {
            _bytes = bytes;
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(2048);
            _ = AcceptLoopAsync();
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

        public int Accepted => Volatile.Read(ref _accepted);

        public long Sent => Interlocked.Read(ref _sent);
        private long _sent;

        /// <summary>
        /// Bytes [offset, offset + buffer.Length) of the client's stream (offset a multiple of 8): word k is splitmix64 of
        /// (client, k). Cheap on purpose: 1,000 backends produce 2 GiB, and a costly generator would starve the test process.
        /// </summary>
        public static void Fill(int client, int offset, Span<byte> buffer)
        {
            var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(buffer);
            var k = ((ulong)(uint)client << 32) | (uint)(offset / 8);
            for (var i = 0; i < words.Length; i++)
            {
                var z = (k + (ulong)i) * 0x9E3779B97F4A7C15UL;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                words[i] = z ^ (z >> 31);
            }
        }

        public static byte[] Stream(int client, int bytes)
        {
            var data = new byte[bytes];
            Fill(client, 0, data);
            return data;
        }

        public static byte[] ExpectedHash(int client, int bytes) => SHA256.HashData(Stream(client, bytes));

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket s;
                try
                {
                    s = await _listener.AcceptAsync(_stop.Token);
                }
                catch (Exception)
                {
                    return;
                }
                Interlocked.Increment(ref _accepted);
                _ = ServeAsync(s);
            }
        }

        private async Task ServeAsync(Socket s)
        {
            using (s)
            {
                try
                {
                    var id = new byte[4];
                    for (var got = 0; got < 4;)
                    {
                        var n = await s.ReceiveAsync(id.AsMemory(got), _stop.Token);
                        if (n == 0)
                        {
                            return;
                        }
                        got += n;
                    }
                    var client = BitConverter.ToInt32(id);
                    var chunk = new byte[64 * 1024];
                    for (var sent = 0; sent < _bytes;)
                    {
                        var n = Math.Min(chunk.Length, _bytes - sent);
                        Fill(client, sent, chunk.AsSpan(0, n));
                        for (var off = 0; off < n;)
                        {
                            off += await s.SendAsync(chunk.AsMemory(off, n - off), SocketFlags.None, _stop.Token);
                        }
                        sent += n;
                        Interlocked.Add(ref _sent, n);
                    }
                    s.Shutdown(SocketShutdown.Send);
                    // Hold the socket until the client is done: closing with unread input would reset the connection.
                    while (await s.ReceiveAsync(id, _stop.Token) > 0)
                    {
                    }
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                }
                catch (SocketException)
                {
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Dispose();
        }
    }
}
