using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Yarp.SockmapForwarder;
using Yarp.SockmapForwarder.DataPath;

namespace BpfSteer.Benchmarks;

/// <summary>
/// Tools for benchmarks/forwarder/run.sh, driving <see cref="DataPathForwarder"/> directly (no YARP config):
///   proxy --route LISTEN=BACKEND [--route ...] --mode Sockmap|UserSpace|Auto [--max-queued BYTES] [--budget BYTES] [--cpu N]
///         (--max-queued: the route's MaxQueuedBytes, its default when absent, 0 = no per-connection bound;
///          --budget: BpfSteer:Forwarder:KernelQueueBudget, its default when absent)
///         [--steer rfs|none] [--configure-rfs true] [--steer-refresh SECONDS]   RFS steering to the route CPU
///   echo --listen PORT                      echo server (ping-pong and new-connection backends)
///   pingpong --target PORT --count N --size BYTES         prints {"p50_us":..,"p99_us":..}
///   connrate --target PORT --seconds S --size BYTES --parallel N   prints {"conns_per_sec":..}
/// </summary>
internal static class ForwarderApp
{
    public static async Task<int> RunAsync(string[] args)
    {
        var command = args.Length > 0 ? args[0] : "";
        var options = Parse(args.Skip(1).ToArray());
        return command switch
        {
            "proxy" => await Proxy(options),
            "echo" => await Echo(int.Parse(options["listen"][0])),
            "pingpong" => PingPong(int.Parse(options["target"][0]), int.Parse(options["count"][0]), int.Parse(options["size"][0])),
            "connrate" => await ConnRate(int.Parse(options["target"][0]), double.Parse(options["seconds"][0]), int.Parse(options["size"][0]), int.Parse(options["parallel"][0])),
            _ => Usage(),
        };
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: forwarder proxy|echo|pingpong|connrate [options] (see ForwarderApp.cs)");
        return 2;
    }

    internal static Dictionary<string, List<string>> Parse(string[] args)
    {
        var map = new Dictionary<string, List<string>>();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var key = args[i].TrimStart('-');
            if (!map.TryGetValue(key, out var list))
            {
                map[key] = list = new List<string>();
            }
            list.Add(args[i + 1]);
        }
        return map;
    }

    private static async Task<int> Proxy(Dictionary<string, List<string>> options)
    {
        var mode = Enum.Parse<TcpForwarderMode>(options["mode"][0]);
        var maxQueued = options.TryGetValue("max-queued", out var mq) ? long.Parse(mq[0]) : new TcpRouteConfig { RouteId = "", Listen = "", ClusterId = "" }.MaxQueuedBytes;
        var budget = options.TryGetValue("budget", out var bu) ? long.Parse(bu[0]) : new SockmapForwarderOptions().KernelQueueBudget;
        int? cpu = options.TryGetValue("cpu", out var c) ? int.Parse(c[0]) : null;
        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Information));
        var steer = options.TryGetValue("steer", out var st) && st[0] == "rfs";
        var configureRfs = options.TryGetValue("configure-rfs", out var cr) && bool.Parse(cr[0]);
        var refresh = options.TryGetValue("steer-refresh", out var rf) ? TimeSpan.FromSeconds(double.Parse(rf[0], System.Globalization.CultureInfo.InvariantCulture)) : TimeSpan.FromSeconds(1);
        using var forwarder = new DataPathForwarder(loggerFactory, new SockmapForwarderOptions
        {
            KernelQueueBudget = budget,
            Steering = new Yarp.SockmapForwarder.SockmapSteeringOptions { Enabled = steer, ConfigureRfs = configureRfs, RefreshInterval = refresh },
        });
        if (mode != TcpForwarderMode.UserSpace && !forwarder.SockmapUsable)
        {
            Console.Error.WriteLine("sockmap not usable: " + forwarder.SockmapDetail);
            return 3;
        }
        var dataPath = new TcpRouteConfig
        {
            RouteId = "bench", Listen = "127.0.0.1:0", ClusterId = "bench", Mode = mode, IdleTimeout = TimeSpan.FromMinutes(5),
            MaxQueuedBytes = maxQueued,
        };
        var listeners = new List<Task>();
        var index = 0;
        foreach (var route in options["route"])
        {
            var parts = route.Split('=');
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, int.Parse(parts[0])));
            listener.Listen(4096);
            var backend = new IPEndPoint(IPAddress.Loopback, int.Parse(parts[1]));
            var routeIndex = index++;
            listeners.Add(AcceptLoop(forwarder, listener, backend, routeIndex, dataPath with { RouteId = $"bench{routeIndex}" }, cpu));
        }
        Console.WriteLine($"ready mode={mode} {forwarder.SockmapDetail}");
        var routes = index;
        var printed = 0;
        void PrintStats()
        {
            if (Interlocked.Exchange(ref printed, 1) != 0)
            {
                return;
            }
            for (var r = 0; r < routes; r++)
            {
                var s = forwarder.GetRouteStats(r);
                Console.WriteLine($"route {r}: path {s.Path} ({s.PathReason}); requested cpu {(cpu?.ToString() ?? "none")}; steering {s.Steering}; bytes c2b {s.BytesClientToBackend} b2c {s.BytesBackendToClient}; " +
                    $"parked {s.ParkedBytes}; largest backlog {s.LargestBacklogBytes}; kernel queue peak {s.KernelQueuedPeakBytes}; " +
                    $"parks high-mark {s.Parks.HighMark} budget {s.Parks.Budget} peer-full {s.Parks.PeerFull} resumed {s.Parks.Resumed}; connections sockmap {s.SockmapConnections} user-space {s.UserSpaceConnections}; " +
                    $"verdict runs per cpu c2b [{string.Join(",", s.VerdictRunsPerCpuClientToBackend)}] b2c [{string.Join(",", s.VerdictRunsPerCpuBackendToClient)}]");
            }
            Console.Out.Flush();
        }
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        // run.sh stops the proxies with SIGTERM: leave the wait and print the per-route counters on the way out.
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
        PrintStats();
        return 0;
    }

    private static async Task AcceptLoop(DataPathForwarder forwarder, Socket listener, IPEndPoint backend, int route, TcpRouteConfig config, int? cpu)
    {
        while (true)
        {
            var client = await listener.AcceptAsync();
            _ = Task.Run(async () =>
            {
                var pb = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await pb.ConnectAsync(backend);
                }
                catch (SocketException)
                {
                    client.Dispose();
                    pb.Dispose();
                    return;
                }
                await forwarder.ForwardAsync(new ForwardingRequest
                {
                    Route = config, RouteIndex = route, Cpu = cpu, ClientSocket = client, Backend = pb,
                }, CancellationToken.None);
            });
        }
    }

    private static async Task<int> Echo(int port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(4096);
        Console.WriteLine("ready");
        while (true)
        {
            var s = await listener.AcceptAsync();
            _ = Task.Run(async () =>
            {
                using (s)
                {
                    s.NoDelay = true;
                    var buffer = new byte[64 * 1024];
                    try
                    {
                        int n;
                        while ((n = await s.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                        {
                            await s.SendAsync(buffer.AsMemory(0, n), SocketFlags.None);
                        }
                        s.Shutdown(SocketShutdown.Send);
                    }
                    catch (SocketException)
                    {
                    }
                }
            });
        }
    }

    /// <summary>One connection, <paramref name="count"/> request/response rounds of <paramref name="size"/> bytes, blocking I/O.</summary>
    private static int PingPong(int port, int count, int size)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        s.Connect(IPAddress.Loopback, port);
        var buffer = new byte[size];
        var samples = new double[count];
        var warmup = Math.Min(200, count / 10);
        for (var i = -warmup; i < count; i++)
        {
            var t = Stopwatch.GetTimestamp();
            s.Send(buffer);
            ReadExactly(s, buffer);
            if (i >= 0)
            {
                samples[i] = Stopwatch.GetElapsedTime(t).TotalMicroseconds;
            }
        }
        Array.Sort(samples);
        Console.WriteLine($"{{\"p50_us\":{samples[count / 2]:F1},\"p99_us\":{samples[(int)(count * 0.99)]:F1}}}");
        return 0;
    }

    /// <summary>New connections per second: connect, send a request, read the echo, close; N in parallel.</summary>
    private static async Task<int> ConnRate(int port, double seconds, int size, int parallel)
    {
        long done = 0;
        var until = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, parallel).Select(_ => Task.Run(() =>
        {
            var buffer = new byte[size];
            while (Stopwatch.GetTimestamp() < until)
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                s.Connect(IPAddress.Loopback, port);
                s.Send(buffer);
                ReadExactly(s, buffer);
                s.Shutdown(SocketShutdown.Send);
                while (s.Receive(buffer) > 0)
                {
                }
                Interlocked.Increment(ref done);
            }
        })).ToArray();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(workers);
        Console.WriteLine($"{{\"conns_per_sec\":{done / clock.Elapsed.TotalSeconds:F0}}}");
        return 0;
    }

    private static void ReadExactly(Socket s, byte[] buffer)
    {
        var got = 0;
        while (got < buffer.Length)
        {
            var n = s.Receive(buffer, got, buffer.Length - got, SocketFlags.None);
            if (n == 0)
            {
                throw new EndOfStreamException();
            }
            got += n;
        }
    }
}
