using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Yarp.SockmapForwarder;
using Yarp.SockmapForwarder.DataPath;
using Yarp.SockmapForwarder.DataPath.Sockmap;

namespace BpfSteer.Benchmarks;

/// <summary>
/// Reproducer for the bounded-memory (parking) path, not a benchmark:
///   park-stress [--runs N] [--mib M] [--max-queued BYTES (default: the route default)] [--keep-going 1]
/// Each run moves M MiB each way at once through one sockmap connection with the bound. Both streams are
/// self-describing (every 8-byte word = magic | direction | its own stream offset), so on a mismatch the receiver
/// reports where the wrong bytes start, which stream and offset they came from and how long the run is, next to the
/// bytes user space moved itself (parked bytes) and the verdict's counters of the connection.
/// </summary>
internal static class ParkStress
{
    private const ulong Magic = 0xA5UL << 56;
    private const int RouteIndex = 7;

    // One connection at a time in a map of capacity one: every run (and the start-up self-test) uses connection 0.
    private const int Connection = 0;

    public static int Run(Dictionary<string, List<string>> options)
    {
        var runs = options.TryGetValue("runs", out var r) ? int.Parse(r[0]) : 50;
        var size = (options.TryGetValue("mib", out var m) ? long.Parse(m[0]) : 64) << 20;
        var maxQueued = options.TryGetValue("max-queued", out var q) ? long.Parse(q[0]) : new TcpRouteConfig { RouteId = "", Listen = "", ClusterId = "" }.MaxQueuedBytes; // the route default
        var keepGoing = options.ContainsKey("keep-going");
        var patterns = new[] { Pattern(0, size), Pattern(1, size) };
        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning));
        using var forwarder = new DataPathForwarder(loggerFactory, new SockmapForwarderOptions { SockmapCapacity = 1 });
        if (!forwarder.SockmapUsable)
        {
            Console.Error.WriteLine("sockmap not usable: " + forwarder.SockmapDetail);
            return 3;
        }
        var received = new[] { new byte[size + (64 << 20)], new byte[size + (64 << 20)] };
        int failures = 0;
        var clock = Stopwatch.StartNew();
        for (var run = 1; run <= runs; run++)
        {
            var before = TcpCounters();
            var parkedBefore = forwarder.GetRouteStats(RouteIndex).ParkedBytes;
            var runClock = Stopwatch.StartNew();
            var (result, lengths) = OneRun(forwarder, patterns, received, maxQueued);
            var ok = true;
            var lines = new List<string>();
            for (var d = 0; d < 2; d++)
            {
                var n = lengths[d];
                var good = n == size && received[d].AsSpan(0, (int)n).SequenceEqual(patterns[d]);
                if (good)
                {
                    continue;
                }
                ok = false;
                lines.Add($"  dir {d}: received {n} bytes, expected {size} (diff {n - size})");
                var segs = Segments(received[d].AsSpan(0, (int)Math.Min(n, received[d].Length)), patterns);
                lines.AddRange(segs.Select(s => "    " + s));
            }
            var parked = forwarder.GetRouteStats(RouteIndex).ParkedBytes - parkedBefore;
            var slots = SlotsText(forwarder);
            var after = TcpCounters();
            var tcp = string.Join(" ", new[] { "RetransSegs", "TCPDSACKOldSent", "TCPDSACKOfoSent", "TCPLossProbes", "TCPTimeouts", "TCPRcvQDrop", "TCPZeroWindowDrop", "TCPBacklogCoalesce" }
                .Select(k => $"{k}={after.GetValueOrDefault(k) - before.GetValueOrDefault(k)}"));
            Console.WriteLine($"run {run}: {(ok ? "ok" : "FAIL")} {tcp} {runClock.Elapsed.TotalSeconds:F1}s c2b={result.BytesClientToBackend} b2c={result.BytesBackendToClient} {result.CloseReason} " +
                $"parked={parked} {slots}");
            if (!ok)
            {
                failures++;
                foreach (var line in lines)
                {
                    Console.WriteLine(line);
                }
                if (!keepGoing)
                {
                    break;
                }
            }
        }
        Console.WriteLine($"park-stress: {failures} failed runs, {clock.Elapsed.TotalSeconds:F0}s");
        return failures == 0 ? 0 : 1;
    }

    /// <summary>Kernel-wide TCP counters (/proc/net/snmp Tcp, /proc/net/netstat TcpExt), by name.</summary>
    private static Dictionary<string, long> TcpCounters()
    {
        var result = new Dictionary<string, long>();
        foreach (var file in new[] { "/proc/net/snmp", "/proc/net/netstat" })
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i + 1 < lines.Length; i += 2)
            {
                var names = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var values = lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (names[0] is "Tcp:" or "TcpExt:")
                {
                    for (var k = 1; k < names.Length && k < values.Length; k++)
                    {
                        result[names[k]] = long.TryParse(values[k], out var v) ? v : 0;
                    }
                }
            }
        }
        return result;
    }

    private static string SlotsText(DataPathForwarder forwarder)
        => string.Join(" ", Enumerable.Range(0, 2).Select(d => SlotText(forwarder, d)));

    private static unsafe string SlotText(DataPathForwarder forwarder, int d)
    {
        var s = forwarder.Engine!.Slot(Connection * 2 + d);
        return $"[d{d} red={s->Redirected} passed={s->Passed} cons={s->Consumed} parks={s->Parks} verdicts={s->Verdicts} overlaps={s->Overlaps} trimmed={s->Trimmed} trimFailed={s->TrimFailed}]";
    }

    private static (ForwardingResult Result, long[] Lengths) OneRun(DataPathForwarder forwarder, byte[][] patterns, byte[][] received, long maxQueued)
    {
        using var clientListener = Listen();
        using var backendListener = Listen();
        using var user = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        user.Connect(clientListener.LocalEndPoint!);
        var pc = clientListener.Accept();
        var pb = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        pb.Connect(backendListener.LocalEndPoint!);
        using var backend = backendListener.Accept();
        backend.NoDelay = true;
        var request = new ForwardingRequest
        {
            Route = new TcpRouteConfig
            {
                RouteId = "stress", Listen = "127.0.0.1:0", ClusterId = "stress", Mode = TcpForwarderMode.Sockmap,
                IdleTimeout = TimeSpan.FromSeconds(60), MaxQueuedBytes = maxQueued,
            },
            RouteIndex = RouteIndex, ClientSocket = pc, Backend = pb,
        };
        var forwarding = Task.Run(() => forwarder.ForwardAsync(request, CancellationToken.None));
        var lengths = new long[2];
        var threads = new[]
        {
            new Thread(() => Send(user, patterns[0])),
            new Thread(() => Send(backend, patterns[1])),
            new Thread(() => lengths[0] = Receive(backend, received[0])),
            new Thread(() => lengths[1] = Receive(user, received[1])),
        };
        foreach (var t in threads)
        {
            t.Start();
        }
        foreach (var t in threads)
        {
            if (!t.Join(TimeSpan.FromSeconds(120)))
            {
                Console.WriteLine("run hung: " + SlotsText(forwarder));
                Environment.Exit(4);
            }
        }
        return (forwarding.GetAwaiter().GetResult(), lengths);
    }

    private static void Send(Socket socket, byte[] data)
    {
        for (var sent = 0; sent < data.Length;)
        {
            sent += socket.Send(data, sent, Math.Min(1 << 20, data.Length - sent), SocketFlags.None);
        }
        socket.Shutdown(SocketShutdown.Send);
    }

    private static long Receive(Socket socket, byte[] buffer)
    {
        long total = 0;
        var spill = new byte[256 << 10];
        while (true)
        {
            var room = (int)Math.Min(256 << 10, buffer.Length - total);
            var n = room > 0 ? socket.Receive(buffer, (int)total, room, SocketFlags.None) : socket.Receive(spill);
            if (n == 0)
            {
                return total;
            }
            total += n;
        }
    }

    private static Socket Listen()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        s.Listen(16);
        return s;
    }

    private static byte[] Pattern(int dir, long size)
    {
        var data = new byte[size];
        for (long o = 0; o < size; o += 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan((int)o), Magic | ((ulong)dir << 48) | (ulong)o);
        }
        return data;
    }

    /// <summary>Splits a received stream into runs that match some place of either pattern: (position, source, length).</summary>
    private static List<string> Segments(ReadOnlySpan<byte> got, byte[][] patterns)
    {
        var result = new List<string>();
        long pos = 0;
        for (var i = 0; i < 8 && pos < got.Length; i++)
        {
            var src = -1L;
            var dir = -1;
            for (var k = 0; k < 8 && pos + k + 8 <= got.Length; k++)
            {
                var w = BinaryPrimitives.ReadUInt64LittleEndian(got[(int)(pos + k)..]);
                if ((w & 0xFF00000000000000UL) == Magic && (w & 7) == 0)
                {
                    dir = (int)((w >> 48) & 0xFF);
                    src = (long)(w & 0xFFFFFFFFFFFFUL) - k;
                    break;
                }
            }
            if (src < 0 || dir > 1)
            {
                result.Add($"at {pos}: unrecognised bytes");
                break;
            }
            var span = got[(int)pos..];
            var pattern = patterns[dir].AsSpan((int)src);
            var len = span.CommonPrefixLength(pattern);
            result.Add($"at {pos}: {len} bytes = dir {dir} [{src}, {src + len})" + (src != pos ? $"  <-- expected offset {pos}" : ""));
            if (len == 0)
            {
                break;
            }
            pos += len;
        }
        return result;
    }

}
