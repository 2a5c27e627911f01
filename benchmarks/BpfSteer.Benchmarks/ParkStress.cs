using System.Buffers.Binary;
using System.Collections.Concurrent;
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
///   park-stress [--runs N] [--mib M] [--max-queued BYTES] [--keep-going 1]
/// Each run moves M MiB each way at once through one sockmap connection with the bound. Both streams are
/// self-describing (every 8-byte word = magic | direction | its own stream offset), so on a mismatch the receiver
/// reports where the wrong bytes start, which stream and offset they came from and how long the run is, next to the
/// ranges user space moved itself (parked bytes) and the verdict's counters.
/// </summary>
internal static class ParkStress
{
    private const ulong Magic = 0xA5UL << 56;

    public static int Run(Dictionary<string, List<string>> options)
    {
        var runs = options.TryGetValue("runs", out var r) ? int.Parse(r[0]) : 50;
        var size = (options.TryGetValue("mib", out var m) ? long.Parse(m[0]) : 64) << 20;
        var maxQueued = options.TryGetValue("max-queued", out var q) ? long.Parse(q[0]) : 4L << 20;
        var keepGoing = options.ContainsKey("keep-going");
        var patterns = new[] { Pattern(0, size), Pattern(1, size) };
        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning));
        using var forwarder = new DataPathForwarder(loggerFactory, new SockmapForwarderOptions { AutoAllowsSockmap = true });
        if (!forwarder.SockmapUsable)
        {
            Console.Error.WriteLine("sockmap not usable: " + forwarder.SockmapDetail);
            return 3;
        }
        var received = new[] { new byte[size + (64 << 20)], new byte[size + (64 << 20)] };
        var chunks = new ConcurrentQueue<(int Conn, int Dir, long Src, int Len, bool Written)>();
        SockmapDiagnostics.Observer = (conn, dir, bytes, written) => chunks.Enqueue((conn, dir, Locate(bytes, dir), bytes.Length, written));
        int failures = 0;
        var clock = Stopwatch.StartNew();
        for (var run = 1; run <= runs; run++)
        {
            chunks.Clear();
            var before = TcpCounters();
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
            var parkedWritten = chunks.Where(c => c.Written).GroupBy(c => c.Dir).ToDictionary(g => g.Key, g => g.Sum(c => (long)c.Len));
            var conn = chunks.IsEmpty ? -1 : chunks.First().Conn;
            var slots = conn < 0 ? "" : string.Join(" ", Enumerable.Range(0, 2).Select(d => SlotText(forwarder, conn, d)));
            var after = TcpCounters();
            var tcp = string.Join(" ", new[] { "RetransSegs", "TCPDSACKOldSent", "TCPDSACKOfoSent", "TCPLossProbes", "TCPTimeouts", "TCPRcvQDrop", "TCPZeroWindowDrop", "TCPBacklogCoalesce" }
                .Select(k => $"{k}={after.GetValueOrDefault(k) - before.GetValueOrDefault(k)}"));
            Console.WriteLine($"run {run}: {(ok ? "ok" : "FAIL")} {tcp} {runClock.Elapsed.TotalSeconds:F1}s c2b={result.BytesClientToBackend} b2c={result.BytesBackendToClient} {result.CloseReason} " +
                $"userWritten c2b={parkedWritten.GetValueOrDefault(0)} b2c={parkedWritten.GetValueOrDefault(1)} {slots}");
            if (!ok)
            {
                failures++;
                foreach (var line in lines)
                {
                    Console.WriteLine(line);
                }
                DumpChunksNear(chunks, lines);
                if (!keepGoing)
                {
                    break;
                }
            }
        }
        SockmapDiagnostics.Observer = null;
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

    private static unsafe string SlotText(DataPathForwarder forwarder, int conn, int d)
    {
        var s = forwarder.Engine!.Slot(conn * 2 + d);
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
            RouteIndex = 7, ClientSocket = pc, Backend = pb,
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
                Console.WriteLine("run hung: " + forwarder.Engine!.DescribeActive());
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

    /// <summary>Stream offset (and direction) of the first byte of <paramref name="bytes"/>, from the first whole word; -1 if none.</summary>
    private static long Locate(ReadOnlySpan<byte> bytes, int expectedDir)
    {
        for (var k = 0; k < 8 && k + 8 <= bytes.Length; k++)
        {
            var w = BinaryPrimitives.ReadUInt64LittleEndian(bytes[k..]);
            if ((w & 0xFF00000000000000UL) == Magic && (w & 7) == 0)
            {
                var dir = (int)((w >> 48) & 0xFF);
                var off = (long)(w & 0xFFFFFFFFFFFFUL) - k;
                return dir == expectedDir ? off : -(((long)dir + 2) << 40) - off;
            }
        }
        return -1;
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

    private static void DumpChunksNear(ConcurrentQueue<(int Conn, int Dir, long Src, int Len, bool Written)> chunks, List<string> lines)
    {
        Console.WriteLine($"  user-space chunks: {chunks.Count} (read+written); merged written ranges per direction:");
        foreach (var g in chunks.Where(c => c.Written).GroupBy(c => c.Dir))
        {
            var ranges = new List<(long Start, long End)>();
            foreach (var c in g)
            {
                if (ranges.Count > 0 && ranges[^1].End == c.Src)
                {
                    ranges[^1] = (ranges[^1].Start, c.Src + c.Len);
                }
                else
                {
                    ranges.Add((c.Src, c.Src + c.Len));
                }
            }
            Console.WriteLine($"    dir {g.Key}: {ranges.Count} ranges: " + string.Join(" ", ranges.Take(400).Select(x => $"[{x.Start},{x.End})")));
        }
    }
}
