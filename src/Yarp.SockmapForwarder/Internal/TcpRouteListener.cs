using System.Net;
using System.Net.Sockets;
using BpfSteer.Internal;
using BpfSteer.Interop;
using Microsoft.AspNetCore.Connections;
using static BpfSteer.Interop.Libc;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// The listen sockets of one TCP route: <b>where a connection is accepted</b>. Per address, one SO_REUSEPORT socket per
/// loop (a route with a <c>Cpu</c> listens on that CPU's loop only). Member i is listened i-th, so its group index is
/// i and the classic-BPF CPU selector (<see cref="ReuseportCpuProgram"/>) hands each new connection to the member of
/// the CPU that received it: <b>that is where its CPU is chosen</b> (with spill-over to a colder CPU's loop when the
/// receiving CPU is saturated: <see cref="ReuseportBalancer"/>). Every member also carries SO_INCOMING_CPU = its loop's
/// CPU, which the kernel's hash fallback prefers when the program is missing.
/// </summary>
internal sealed class TcpRouteListener
{
    private const int Backlog = 1024;

    private readonly List<Member> _members;

    private readonly List<System.Net.Sockets.Socket> _balanced = new();
    private ReuseportBalancer? _balancer;

    private TcpRouteListener(TcpRouteState route, ListenAddress listen, List<Member> members, string boundEndPoint, int boundPort)
    {
        Route = route;
        Listen = listen;
        _members = members;
        BoundEndPoint = boundEndPoint;
        BoundPort = boundPort;
    }

    public TcpRouteState Route { get; }

    /// <summary>The configured address this listener serves.</summary>
    public ListenAddress Listen { get; }

    /// <summary>The port bound (the kernel's choice when <see cref="Listen"/> asked for 0).</summary>
    public int BoundPort { get; }

    /// <summary>The bound endpoint with the real port ("127.0.0.1:40811", "*:40811", "localhost:6380").</summary>
    public string BoundEndPoint { get; }

    /// <summary>Whether the CPU selector program is attached to every address's group (false: kernel hashing).</summary>
    public bool SelectorAttached { get; private init; }

    /// <summary>Binds and listens on every loop of <paramref name="loops"/>, then starts accepting. Throws AddressInUseException when taken.</summary>
    public static async Task<TcpRouteListener> BindAsync(TcpRouteState route, ListenAddress listen, IReadOnlyList<TcpRouteLoop> loops, ReuseportBalancer balancer)
    {
        var members = new List<Member>();
        var balanced = new List<System.Net.Sockets.Socket>();
        var selector = true;
        try
        {
            var port = listen.Port;
            foreach (var (address, optional) in Addresses(listen))
            {
                List<Member> group;
                try
                {
                    group = CreateGroup(route, new IPEndPoint(address, port), loops);
                }
                catch (SocketException e) when (optional && e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported)
                {
                    continue; // localhost without IPv6, as Kestrel does
                }
                members.AddRange(group);
                port = ((IPEndPoint)group[0].Socket.LocalEndPoint!).Port; // port 0: every address gets the same port
                if (group.Count > 1)
                {
                    selector &= balancer.Add(group[0].Socket, loops.Select(l => l.Cpu).ToArray());
                    balanced.Add(group[0].Socket);
                }
            }
            foreach (var member in members)
            {
                await member.Loop.InvokeAsync(member.Register).ConfigureAwait(false); // throws when the loop cannot poll it
            }
            var bound = listen.Kind == ListenAddressKind.Ip
                ? ((IPEndPoint)members[0].Socket.LocalEndPoint!).ToString()
                : (listen with { Port = port }).ToString();
            var listener = new TcpRouteListener(route, listen, members, bound, port) { SelectorAttached = selector, _balancer = balancer };
            listener._balanced.AddRange(balanced);
            return listener;
        }
        catch
        {
            balanced.ForEach(balancer.Remove);
            foreach (var member in members)
            {
                await member.CloseAsync().ConfigureAwait(false);
            }
            throw;
        }
    }

    /// <summary>Stops accepting: each member is unregistered on its loop and closed. Open connections are not touched.</summary>
    public async Task CloseAsync()
    {
        _balanced.ForEach(s => _balancer?.Remove(s));
        foreach (var member in _members)
        {
            await member.CloseAsync().ConfigureAwait(false);
        }
    }

    private static IEnumerable<(IPAddress Address, bool Optional)> Addresses(ListenAddress listen) => listen.Kind switch
    {
        ListenAddressKind.Any => [(System.Net.Sockets.Socket.OSSupportsIPv6 ? IPAddress.IPv6Any : IPAddress.Any, false)],
        ListenAddressKind.Localhost => [(IPAddress.Loopback, false), (IPAddress.IPv6Loopback, true)],
        _ => [(listen.Address!, false)],
    };

    private static List<Member> CreateGroup(TcpRouteState route, IPEndPoint endPoint, IReadOnlyList<TcpRouteLoop> loops)
    {
        var sockets = new List<Socket>();
        try
        {
            IPEndPoint? bound = null;
            for (var i = 0; i < loops.Count; i++)
            {
                var socket = new System.Net.Sockets.Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                sockets.Add(socket);
                if (endPoint.Address.Equals(IPAddress.IPv6Any))
                {
                    socket.DualMode = true;
                }
                // The first member binds without SO_REUSEPORT, so a port anybody holds (even another reuseport group) is
                // refused instead of silently joined; the flag is set right after, before listen().
                if (i > 0)
                {
                    NativeSocket.SetInt(socket.SafeHandle, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
                }
                NativeSocket.TrySetInt(socket.SafeHandle, SOL_SOCKET, SO_INCOMING_CPU, loops[i].Cpu);
                // Accepted sockets inherit TCP_NODELAY from their listener: one setsockopt per route, not per connection.
                NativeSocket.TrySetInt(socket.SafeHandle, IPPROTO_TCP, TCP_NODELAY, 1);
                try
                {
                    socket.Bind(bound ?? endPoint);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
                {
                    throw new AddressInUseException($"The TCP route '{route.RouteId}' cannot listen on {endPoint}: {e.Message}", e);
                }
                if (i == 0)
                {
                    NativeSocket.SetInt(socket.SafeHandle, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
                    bound = (IPEndPoint)socket.LocalEndPoint!;
                }
            }
            // Group index = listen() order: member i belongs to loops[i] (the CPU selector's mapping).
            foreach (var socket in sockets)
            {
                NativeSocket.TryListen(socket.SafeHandle, Backlog).ThrowOnError("listen");
            }
            return sockets.Select((s, i) => new Member(route, s, loops[i])).ToList();
        }
        catch
        {
            sockets.ForEach(s => s.Dispose());
            throw;
        }
    }

    /// <summary>One listen socket, polled (level-triggered) by one loop: accepts and starts each connection there.</summary>
    internal sealed class Member : IEventLoopHandler
    {
        // One per wake-up: the socket is polled level-triggered, so a longer queue is reported again at the next epoll_wait,
        // and no accept4 is spent finding the queue empty (that EAGAIN call was one accept4 in two at low concurrency).
        private const int AcceptBatch = 1;

        // Out of descriptors or memory: stop polling for a moment instead of spinning on a level-triggered listener.
        private const long ResourceBackoffMs = 100;
        private const int EMFILE = 24, ENFILE = 23, ENOBUFS = 105;

        private readonly TcpRouteState _route;
        private readonly IPEndPoint? _fixedLocal;
        private ulong _token;
        private long _resumeAt;
        private bool _paused;
        private bool _starved; // since the last successful accept: logged once per episode, not per back-off
        private bool _closed;

        public Member(TcpRouteState route, Socket socket, TcpRouteLoop loop)
        {
            _route = route;
            Socket = socket;
            Loop = loop;
            var local = (IPEndPoint)socket.LocalEndPoint!;
            // A specific address is every connection's local address; a wildcard needs getsockname (only when asked).
            _fixedLocal = local.Address.Equals(IPAddress.Any) || local.Address.Equals(IPAddress.IPv6Any) ? null : local;
        }

        public Socket Socket { get; }

        public TcpRouteLoop Loop { get; }

        /// <summary>Loop thread.</summary>
        public void Register() => _token = Loop.Register(Socket.SafeHandle, EPOLLIN, this);

        public void OnEvents(uint events)
        {
            for (var i = 0; i < AcceptBatch && !_closed && !_paused; i++)
            {
                var result = NativeSocketAddress.TryAccept(Socket.SafeHandle, out var fd, out var remote);
                if (!result.IsSuccess)
                {
                    if (result.Errno is EMFILE or ENFILE or ENOBUFS or Errno.ENOMEM)
                    {
                        Pause(result);
                    }
                    else if (result.Errno == Errno.ECONNABORTED)
                    {
                        continue;
                    }
                    return;
                }
                _starved = false;
                new TcpRouteConnection(Loop, _route, fd!, remote, _fixedLocal).Start();
            }
        }

        /// <summary>Loop tick: polls the socket again once the back-off has passed; true when it did (or it was closed).</summary>
        public bool TryResume(long now)
        {
            if (_closed)
            {
                return true;
            }
            if (now < _resumeAt)
            {
                return false;
            }
            _paused = false;
            Register();
            return true;
        }

        /// <summary>Stops polling (on the loop) and closes the socket; the socket is closed even when the loop is gone.</summary>
        public async Task CloseAsync()
        {
            if (_token != 0)
            {
                await Loop.RunAsync(CloseOnLoop).ConfigureAwait(false);
            }
            _closed = true;
            Socket.Dispose();
        }

        private void CloseOnLoop()
        {
            _closed = true;
            if (!_paused && _token != 0)
            {
                Loop.Unregister(Socket.SafeHandle, _token);
                _token = 0;
            }
        }

        private void Pause(PosixResult result)
        {
            _route.CountAcceptPause();
            if (!_starved)
            {
                SockmapForwarderLog.AcceptPaused(Loop.Owner.Logger, _route.RouteId, Loop.Cpu, result.ToString(), (int)ResourceBackoffMs);
                _starved = true;
            }
            _paused = true;
            _resumeAt = Environment.TickCount64 + ResourceBackoffMs;
            Loop.Unregister(Socket.SafeHandle, _token);
            Loop.Pause(this);
        }
    }
}
