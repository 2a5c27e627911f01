using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using BpfSteer.Interop;
using TmdsLibC = Tmds.Linux.LibC;

namespace BpfSteer.Benchmarks;

/// <summary>
/// "interop-calls": the cost of the native calls on the transport's per-request path, through BpfSteer's own
/// bindings and through Tmds.LibC 0.5.0, in one process on one pinned CPU. It backs two decisions written down in
/// src/BpfSteer.Core/README.md: that the arm64 epoll_event conversion costs x64 nothing, and whether Tmds.LibC's
/// bindings would be faster. Usage: interop-calls [iterations per round] [rounds] [cpu].
/// </summary>
internal static unsafe partial class InteropCalls
{
    private const int MaxEvents = 64;

    public static int Run(string[] args)
    {
        var iterations = args.Length > 0 ? int.Parse(args[0]) : 200_000;
        var rounds = args.Length > 1 ? int.Parse(args[1]) : 7;
        var cpu = args.Length > 2 ? int.Parse(args[2]) : 1;
        CpuAffinity.SetCurrentThreadAffinity([cpu]);

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.Connect(listener.LocalEndPoint!);
        using var server = listener.Accept();
        server.NoDelay = true;

        var epfd = Libc.EpollCreate1(Libc.EPOLL_CLOEXEC);
        using var epoll = new SafeFileDescriptorHandle(epfd, ownsHandle: true);
        var events = new Libc.EpollEvent[MaxEvents];
        var payload = new byte[64];
        var received = new byte[64];

        // Each case runs `iterations` calls; a case returns false when a call did not do what it should.
        (string Name, Func<int, bool> Body)[] cases =
        [
            ("epoll_wait(0), nothing ready: LibraryImport as on main (before the arm64 conversion)", n => EpollWaitDirectLoop(epoll, events, n)),
            ("epoll_wait(0), nothing ready: Libc.EpollWait (with the arm64 conversion)", n => EpollWaitLoop(epoll, events, n)),
            ("epoll_wait(0), nothing ready: Tmds.LibC epoll_wait(int fd) + DangerousAddRef", n => TmdsEpollWaitLoop(epoll, events, n)),
            ("recv(MSG_DONTWAIT) -> EAGAIN: NativeSocket.TryReceive (LibraryImport, SafeHandle)", n => RecvEmptyLoop(server.SafeHandle, received, n)),
            ("recv(MSG_DONTWAIT) -> EAGAIN: Tmds.LibC recv(int fd) + DangerousAddRef", n => TmdsRecvEmptyLoop(server.SafeHandle, received, n)),
            ("send 64 B + recv 64 B, loopback TCP: NativeSocket (LibraryImport, SafeHandle)", n => PingLoop(client.SafeHandle, server.SafeHandle, payload, received, n)),
            ("send 64 B + recv 64 B, loopback TCP: Tmds.LibC (int fd) + DangerousAddRef", n => TmdsPingLoop(client.SafeHandle, server.SafeHandle, payload, received, n)),
        ];

        foreach (var (_, body) in cases)
        {
            body(iterations / 10); // warm-up: tier-1 code before the first measured round
        }
        var ns = cases.Select(_ => new List<double>()).ToArray();
        for (var r = 0; r < rounds; r++)
        {
            for (var i = 0; i < cases.Length; i++) // interleaved, so drift spreads over every case
            {
                var sw = Stopwatch.StartNew();
                if (!cases[i].Body(iterations))
                {
                    Console.Error.WriteLine($"{cases[i].Name}: a call failed");
                    return 1;
                }
                ns[i].Add(sw.Elapsed.TotalNanoseconds / iterations);
            }
        }
        Console.WriteLine($"interop-calls: {iterations} calls x {rounds} rounds, pinned to cpu{cpu}, {RuntimeInformation.ProcessArchitecture}, " +
                          $".NET {Environment.Version}; ns per call (send+recv: per pair), median [min-max]");
        for (var i = 0; i < cases.Length; i++)
        {
            var sorted = ns[i].Order().ToArray();
            Console.WriteLine($"  {sorted[sorted.Length / 2],7:F1} [{sorted[0]:F1}-{sorted[^1]:F1}]  {cases[i].Name}");
        }
        return 0;
    }

    // main's declaration of epoll_wait, kept here as the "before" of the arm64 conversion in Libc.EpollWait.
    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWaitDirect(SafeHandle epfd, Libc.EpollEvent* events, int maxevents, int timeout);

    private static bool EpollWaitDirectLoop(SafeHandle epoll, Libc.EpollEvent[] events, int n)
    {
        fixed (Libc.EpollEvent* p = events)
        {
            for (var i = 0; i < n; i++)
            {
                if (EpollWaitDirect(epoll, p, MaxEvents, 0) != 0)
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static bool EpollWaitLoop(SafeHandle epoll, Libc.EpollEvent[] events, int n)
    {
        fixed (Libc.EpollEvent* p = events)
        {
            for (var i = 0; i < n; i++)
            {
                if (Libc.EpollWait(epoll, p, MaxEvents, 0) != 0)
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static bool TmdsEpollWaitLoop(SafeHandle epoll, Libc.EpollEvent[] events, int n)
    {
        fixed (Libc.EpollEvent* p = events)
        {
            for (var i = 0; i < n; i++)
            {
                var added = false;
                epoll.DangerousAddRef(ref added);
                try
                {
                    if (TmdsLibC.epoll_wait((int)epoll.DangerousGetHandle(), (Tmds.Linux.epoll_event*)p, MaxEvents, 0) != 0)
                    {
                        return false;
                    }
                }
                finally
                {
                    epoll.DangerousRelease();
                }
            }
        }
        return true;
    }

    private static bool RecvEmptyLoop(SafeHandle socket, byte[] buffer, int n)
    {
        for (var i = 0; i < n; i++)
        {
            if (NativeSocket.TryReceive(socket, buffer, Libc.MSG_DONTWAIT).Errno != Errno.EAGAIN)
            {
                return false;
            }
        }
        return true;
    }

    private static bool TmdsRecvEmptyLoop(SafeHandle socket, byte[] buffer, int n)
    {
        fixed (byte* p = buffer)
        {
            for (var i = 0; i < n; i++)
            {
                if (TmdsRecv(socket, p, buffer.Length, Libc.MSG_DONTWAIT) != -Errno.EAGAIN)
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static bool PingLoop(SafeHandle client, SafeHandle server, byte[] payload, byte[] received, int n)
    {
        for (var i = 0; i < n; i++)
        {
            if (NativeSocket.TrySend(client, payload).Value != payload.Length
                || NativeSocket.TryReceive(server, received).Value != received.Length)
            {
                return false;
            }
        }
        return true;
    }

    private static bool TmdsPingLoop(SafeHandle client, SafeHandle server, byte[] payload, byte[] received, int n)
    {
        fixed (byte* s = payload)
        fixed (byte* d = received)
        {
            for (var i = 0; i < n; i++)
            {
                if (TmdsSend(client, s, payload.Length, Libc.MSG_NOSIGNAL) != payload.Length
                    || TmdsRecv(server, d, received.Length, 0) != received.Length)
                {
                    return false;
                }
            }
        }
        return true;
    }

    // Tmds.LibC takes int descriptors: the SafeHandle is pinned by hand, as each call site would have to.
    private static long TmdsRecv(SafeHandle socket, byte* buffer, int length, int flags)
    {
        var added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            var r = (long)TmdsLibC.recv((int)socket.DangerousGetHandle(), buffer, length, flags);
            return r >= 0 ? r : -TmdsLibC.errno;
        }
        finally
        {
            socket.DangerousRelease();
        }
    }

    private static long TmdsSend(SafeHandle socket, byte* buffer, int length, int flags)
    {
        var added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            var r = (long)TmdsLibC.send((int)socket.DangerousGetHandle(), buffer, length, flags);
            return r >= 0 ? r : -TmdsLibC.errno;
        }
        finally
        {
            socket.DangerousRelease();
        }
    }
}
