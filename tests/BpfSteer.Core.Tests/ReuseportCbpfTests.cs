using System.Net;
using System.Net.Sockets;
using BpfSteer.Internal;
using BpfSteer.Interop;
using BpfSteer.Testing;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Core.Tests;

/// <summary>
/// The classic-BPF reuseport selector, attached for real: a client connecting from CPU c must land in the accept queue
/// of the group member whose worker CPU is c (group index = listen() order: docs/design.md, "Reuseport: group order and
/// the CPU selector").
/// </summary>
public class ReuseportCbpfTests
{
    [Theory]
    [InlineData(new[] { 0, 1 })] // contiguous: A = cpu % 2
    [InlineData(new[] { 1, 0 })] // reversed: jump table, CPU 1 -> index 0
    public async Task AttachReuseportCbpf_ClientsPinnedPerCpu_LandOnMatchingMember(int[] workerCpus)
    {
        using var group = ReuseportGroup.Create(workerCpus.Length);
        var attach = NativeSocket.TryAttachReuseportCbpf(group.Members[0].SafeHandle, ReuseportCpuProgram.Build(workerCpus));
        Assert.True(attach.IsSuccess, attach.ToString());

        for (var index = 0; index < workerCpus.Length; index++)
        {
            var cpu = workerCpus[index];
            const int connections = 20;
            var clients = await PinnedThread.RunAsync(cpu, () => Enumerable.Range(0, connections).Select(_ => Connect(group.Port)).ToList()).DefaultTimeout();
            try
            {
                var landed = group.DrainCounts(connections);
                Assert.Equal(connections, landed.Sum());
                Assert.True(landed[index] >= connections - 1, $"CPU {cpu}: expected member {index}, got [{string.Join(",", landed)}]");
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }
        }
    }

    /// <summary>
    /// The spill-over selector (<see cref="ReuseportSpillProgram"/>), attached for real: the kernel must accept its random
    /// load and jump layout, and a CPU that spills everything sends its connections to the other member.
    /// </summary>
    [Fact]
    public async Task AttachReuseportCbpf_SpillProgramCpu0SpillsAll_ConnectionsLandOnMember1()
    {
        using var group = ReuseportGroup.Create(2);
        var program = ReuseportSpillProgram.Build([0, 1], [new(1, 1), new(0, 1)]);
        var attach = NativeSocket.TryAttachReuseportCbpf(group.Members[0].SafeHandle, program);
        Assert.True(attach.IsSuccess, attach.ToString());

        foreach (var cpu in new[] { 0, 1 })
        {
            const int connections = 20;
            var clients = await PinnedThread.RunAsync(cpu, () => Enumerable.Range(0, connections).Select(_ => Connect(group.Port)).ToList()).DefaultTimeout();
            try
            {
                var landed = group.DrainCounts(connections);
                Assert.Equal(connections, landed.Sum());
                Assert.True(landed[1] >= connections - 1, $"CPU {cpu}: expected member 1, got [{string.Join(",", landed)}]");
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }
        }
    }

    [Fact]
    public async Task AttachReuseportCbpf_ReplacedWhileClientsConnect_EverySynSelectedByAProgram()
    {
        // Members for CPUs 0, 1 and 7: only the kernel's hash fallback (no program in force) would pick member 2, since
        // no SYN is received on CPU 7. One program keeps CPU 0's connections on member 0, the other spills them all to
        // member 1; a thread on CPU 1 swaps them as fast as it can while clients on CPU 0 connect.
        var landed = await SwapWhileConnectingAsync(detachBetween: false);
        Assert.Equal(0, landed[2]);
        Assert.True(landed[0] > 0 && landed[1] > 0, $"both programs should have placed connections: [{string.Join(",", landed)}]");
    }

    /// <summary>
    /// Connections from CPU 0 (10 batches of 100) while another thread re-attaches two programs in turn; the count per
    /// member. With <paramref name="detachBetween"/> the swapper detaches before each attach (the design-time check
    /// that a moment without a program shows up as connections on member 2).
    /// </summary>
    private static async Task<int[]> SwapWhileConnectingAsync(bool detachBetween)
    {
        using var group = ReuseportGroup.Create(3);
        int[] cpus = [0, 1, 7];
        var keep = ReuseportSpillProgram.Build(cpus, [new(0, 0), new(0, 1), new(0, 2)]);
        var spill = ReuseportSpillProgram.Build(cpus, [new(1, 1), new(0, 1), new(0, 2)]);
        Assert.True(NativeSocket.TryAttachReuseportCbpf(group.Members[0].SafeHandle, keep).IsSuccess);
        using var stop = new CancellationTokenSource();
        var swaps = PinnedThread.RunAsync(1, () =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                if (detachBetween)
                {
                    NativeSocket.TrySetInt(group.Members[0].SafeHandle, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, 0);
                }
                Assert.True(NativeSocket.TryAttachReuseportCbpf(group.Members[0].SafeHandle, n++ % 2 == 0 ? spill : keep).IsSuccess);
            }
            return n;
        });
        var landed = new int[3];
        try
        {
            for (var batch = 0; batch < 10; batch++)
            {
                const int connections = 100;
                var clients = await PinnedThread.RunAsync(0, () => Enumerable.Range(0, connections).Select(_ => Connect(group.Port)).ToList()).DefaultTimeout();
                try
                {
                    var counts = group.DrainCounts(connections);
                    Assert.Equal(connections, counts.Sum());
                    for (var i = 0; i < 3; i++)
                    {
                        landed[i] += counts[i];
                    }
                }
                finally
                {
                    clients.ForEach(c => c.Dispose());
                }
            }
        }
        finally
        {
            stop.Cancel();
        }
        Assert.True(await swaps.DefaultTimeout() > 100, "the programs were hardly swapped");
        return landed;
    }

    [Fact]
    public void Build_CpusZeroToNMinusOne_IsTheSeedProgram()
    {
        var program = ReuseportCpuProgram.Build([0, 1, 2]);
        Assert.Equal(3, program.Length);
        Assert.Equal(SockFilter.SKF_AD_CPU_OFFSET, program[0].K); // A = cpu
        Assert.Equal(SockFilter.BPF_ALU | SockFilter.BPF_MOD | SockFilter.BPF_K, program[1].Code);
        Assert.Equal(3u, program[1].K); // A %= 3
        Assert.Equal(SockFilter.BPF_RET | SockFilter.BPF_A, program[2].Code); // return A
    }

    [Fact]
    public void Build_SparseCpus_MapsEachCpuToItsIndexAndOthersOutOfRange()
    {
        // CPUs 3 and 7: interpret the jump table the way the kernel does.
        var program = ReuseportCpuProgram.Build([3, 7]);
        Assert.Equal(0u, Interpret(program, cpu: 3));
        Assert.Equal(1u, Interpret(program, cpu: 7));
        Assert.Equal(2u, Interpret(program, cpu: 0)); // >= group size: kernel falls back to hashing
    }

    [Fact]
    public void Build_NoCpus_Throws()
        => Assert.Throws<ArgumentOutOfRangeException>(() => ReuseportCpuProgram.Build([]));

    private static uint Interpret(SockFilter[] program, uint cpu)
    {
        uint a = 0;
        for (var pc = 0; pc < program.Length; pc++)
        {
            var i = program[pc];
            switch (i.Code)
            {
                case SockFilter.BPF_LD | SockFilter.BPF_W | SockFilter.BPF_ABS when i.K == SockFilter.SKF_AD_CPU_OFFSET: a = cpu; break;
                case 0x15: pc += a == i.K ? i.JumpTrue : i.JumpFalse; break; // JMP|JEQ|K
                case SockFilter.BPF_RET | SockFilter.BPF_K: return i.K;
                case SockFilter.BPF_RET | SockFilter.BPF_A: return a;
                case SockFilter.BPF_ALU | SockFilter.BPF_MOD | SockFilter.BPF_K: a %= i.K; break;
                default: throw new InvalidOperationException($"opcode {i.Code:x}");
            }
        }
        throw new InvalidOperationException("fell off the end");
    }

    private static Socket Connect(int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Connect(new IPEndPoint(IPAddress.Loopback, port));
        return s;
    }

    /// <summary>n reuseport listeners on one loopback port, listened in index order.</summary>
    private sealed class ReuseportGroup : IDisposable
    {
        public required Socket[] Members { get; init; }
        public int Port => ((IPEndPoint)Members[0].LocalEndPoint!).Port;

        public static ReuseportGroup Create(int n)
        {
            var members = new Socket[n];
            for (var i = 0; i < n; i++)
            {
                members[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                NativeSocket.SetInt(members[i].SafeHandle, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
                members[i].Bind(new IPEndPoint(IPAddress.Loopback, i == 0 ? 0 : ((IPEndPoint)members[0].LocalEndPoint!).Port));
            }
            foreach (var m in members)
            {
                NativeSocket.TryListen(m.SafeHandle, 128).ThrowOnError("listen");
            }
            return new ReuseportGroup { Members = members };
        }

        /// <summary>Accepts <paramref name="expected"/> connections (the last ACKs may still be in flight) and counts them per member.</summary>
        public int[] DrainCounts(int expected)
        {
            var counts = new int[Members.Length];
            var deadline = Environment.TickCount64 + 5000;
            while (counts.Sum() < expected && Environment.TickCount64 < deadline)
            {
                for (var i = 0; i < Members.Length; i++)
                {
                    while (NativeSocket.TryAccept(Members[i].SafeHandle, out var accepted).IsSuccess)
                    {
                        accepted!.Dispose();
                        counts[i]++;
                    }
                }
                Thread.Sleep(1);
            }
            return counts;
        }

        public void Dispose()
        {
            foreach (var m in Members)
            {
                m.Dispose();
            }
        }
    }
}
