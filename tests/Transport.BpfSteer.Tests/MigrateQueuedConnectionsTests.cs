using System.Net;
using System.Net.Sockets;
using BpfSteer.Interop;
using BpfSteer.Transport.Internal;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// Closing one member of the group (as UnbindAsync does, one member at a time) with connections waiting in its accept
/// queue: with tcp_migrate_req they move to a member still open; without it they are reset (the test can fail).
/// </summary>
[Collection(nameof(CpuBoundCollection))]
public class MigrateQueuedConnectionsTests
{
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(false, true)] // the eBPF SELECT_OR_MIGRATE program migrates whatever the sysctl says
    public async Task CloseMember_QueuedConnections_MigratedWithTcpMigrateReqOrEbpf(bool sysctl, bool ebpf)
    {
        var migrate = sysctl || ebpf;
        var original = File.ReadAllText(TcpMigrateRequest.SysctlPath).Trim();
        try
        {
            File.WriteAllText(TcpMigrateRequest.SysctlPath, sysctl ? "1" : "0");
            using var group = ReuseportGroup.Create(new IPEndPoint(IPAddress.Loopback, 0), [0, 1], 128, preferIncomingCpu: true);
            if (ebpf)
            {
                group.AttachEbpf([0, 1]);
            }
            else
            {
                Assert.True(group.TryAttachCbpf([0, 1]).IsSuccess);
            }
            // Nobody accepts: 10 connections wait in each member's queue (clients on CPU c land on member c).
            var clients = new List<Socket>();
            foreach (var cpu in new[] { 0, 1 })
            {
                clients.AddRange(await PinnedThread.RunAsync(cpu, () => Enumerable.Range(0, 10).Select(_ =>
                {
                    var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 5000 };
                    s.Connect(group.EndPoint);
                    return s;
                }).ToList()).DefaultTimeout());
            }
            try
            {
                group.DetachSelector();
                group.CloseMember(0);
                var accepted = AcceptAll(group.Member(1), expected: 20);
                foreach (var a in accepted)
                {
                    NativeSocket.TrySend(a, "k"u8);
                }
                var served = clients.Count(c => TryReadOne(c));
                accepted.ForEach(a => a.Dispose());
                if (migrate)
                {
                    Assert.Equal(20, accepted.Count);
                    Assert.Equal(20, served);
                    if (ebpf)
                    {
                        var stats = group.Ebpf!.ReadStats();
                        Assert.Equal(20UL, stats.Selected); // every client was placed by CPU
                        Assert.True(stats.Migrated >= 10, $"migrated {stats.Migrated}");
                    }
                }
                else
                {
                    Assert.Equal(10, accepted.Count);
                    Assert.Equal(10, served);
                }
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }
        }
        finally
        {
            File.WriteAllText(TcpMigrateRequest.SysctlPath, original);
        }
    }

    private static List<SafeFileDescriptorHandle> AcceptAll(Socket listener, int expected)
    {
        var accepted = new List<SafeFileDescriptorHandle>();
        var deadline = Environment.TickCount64 + 2000;
        while (accepted.Count < expected && Environment.TickCount64 < deadline)
        {
            if (NativeSocket.TryAccept(listener.SafeHandle, out var fd).IsSuccess)
            {
                accepted.Add(fd!);
            }
            else
            {
                Thread.Sleep(5);
            }
        }
        return accepted;
    }

    private static bool TryReadOne(Socket client)
    {
        try
        {
            return client.Receive(new byte[1]) == 1;
        }
        catch (SocketException)
        {
            return false; // reset
        }
    }
}
