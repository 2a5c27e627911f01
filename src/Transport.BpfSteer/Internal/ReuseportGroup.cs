using System.Net;
using System.Net.Sockets;
using BpfSteer.Internal;
using BpfSteer.Interop;
using Microsoft.AspNetCore.Connections;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// The SO_REUSEPORT listen sockets of one endpoint, one per worker. Member i is listened i-th, so its group index is
/// i (the index is listen() order, not bind() order: docs/design.md, "Reuseport: group order and the CPU selector")
/// and the cBPF program can map CPU → index.
/// </summary>
internal sealed class ReuseportGroup : IDisposable
{
    private readonly Socket?[] _members;
    private bool _selectorAttached;
    private EbpfReuseportSelector? _ebpf;

    private ReuseportGroup(Socket?[] members, IPEndPoint endPoint)
    {
        _members = members;
        EndPoint = endPoint;
    }

    /// <summary>The bound endpoint, with the real port when port 0 was asked for.</summary>
    public IPEndPoint EndPoint { get; }

    public int Count => _members.Length;

    public Socket Member(int index) => _members[index] ?? throw new ObjectDisposedException($"reuseport member {index}");

    /// <summary>Binds one socket per CPU (all on the first one's port) and listens them in order.</summary>
    /// <param name="endPoint">The endpoint; port 0 picks one port for the whole group.</param>
    /// <param name="cpus">The worker CPUs in group order.</param>
    /// <param name="backlog">listen() backlog of each member.</param>
    /// <param name="preferIncomingCpu">Set SO_INCOMING_CPU on member i to cpus[i].</param>
    public static ReuseportGroup Create(IPEndPoint endPoint, IReadOnlyList<int> cpus, int backlog, bool preferIncomingCpu)
    {
        var members = new Socket?[cpus.Count];
        try
        {
            IPEndPoint? bound = null;
            for (var i = 0; i < cpus.Count; i++)
            {
                var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                members[i] = socket;
                if (endPoint.Address.Equals(IPAddress.IPv6Any))
                {
                    socket.DualMode = true;
                }
                // The first member binds without SO_REUSEPORT, so a port anybody holds (even another reuseport group)
                // is refused instead of silently joined; the flag is set right after, before listen().
                if (i > 0)
                {
                    NativeSocket.SetInt(socket.SafeHandle, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
                }
                if (preferIncomingCpu)
                {
                    // Order-independent preference of the kernel's hash fallback (>= 6.0), in force once the program is
                    // detached (membership change) or when it returns an index out of range.
                    NativeSocket.SetInt(socket.SafeHandle, SOL_SOCKET, SO_INCOMING_CPU, cpus[i], "setsockopt(SO_INCOMING_CPU)");
                }
                Bind(socket, bound ?? endPoint);
                if (i == 0)
                {
                    NativeSocket.SetInt(socket.SafeHandle, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
                    bound = (IPEndPoint)socket.LocalEndPoint!;
                }
            }
            foreach (var socket in members)
            {
                NativeSocket.TryListen(socket!.SafeHandle, backlog).ThrowOnError("listen", "BpfSteer:Transport:Backlog");
            }
            return new ReuseportGroup(members, bound!);
        }
        catch
        {
            foreach (var socket in members)
            {
                socket?.Dispose();
            }
            throw;
        }
    }

    /// <summary>Attaches the CPU → group index program; once, on one member, for the whole group.</summary>
    public PosixResult TryAttachCbpf(IReadOnlyList<int> cpus)
    {
        var result = NativeSocket.TryAttachReuseportCbpf(Member(0).SafeHandle, ReuseportCpuProgram.Build(cpus));
        _selectorAttached = result.IsSuccess;
        return result;
    }

    /// <summary>The eBPF selector, when one is attached.</summary>
    public EbpfReuseportSelector? Ebpf => _ebpf;

    /// <summary>Attaches the eBPF selector (throws with the cause when it cannot be loaded or attached).</summary>
    public void AttachEbpf(IReadOnlyList<int> cpus)
        => _ebpf = EbpfReuseportSelector.Attach(_members.Select((m, i) => m ?? Member(i)).ToArray(), cpus);

    /// <summary>
    /// Removes the program before the membership changes: closing a member moves the last one into its slot, which
    /// would silently break the CPU → index mapping. Without it the kernel's hash fallback prefers the listener whose
    /// SO_INCOMING_CPU matches, which does not depend on order.
    /// </summary>
    public bool DetachSelector()
    {
        // The eBPF selector is keyed by worker, not by group index: it stays (and migrates the closing member's queue).
        if (!_selectorAttached)
        {
            return false;
        }
        foreach (var socket in _members)
        {
            if (socket is not null)
            {
                NativeSocket.TrySetInt(socket.SafeHandle, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, 0);
                _selectorAttached = false;
                return true;
            }
        }
        return false;
    }

    /// <summary>Closes member <paramref name="index"/>; with tcp_migrate_req its queued connections move to another member.</summary>
    public void CloseMember(int index)
    {
        var socket = _members[index];
        _members[index] = null;
        socket?.Dispose();
    }

    public void Dispose()
    {
        for (var i = 0; i < _members.Length; i++)
        {
            CloseMember(i);
        }
        _ebpf?.Dispose();
    }

    private static void Bind(Socket socket, IPEndPoint endPoint)
    {
        try
        {
            socket.Bind(endPoint);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new AddressInUseException(e.Message, e);
        }
    }
}
