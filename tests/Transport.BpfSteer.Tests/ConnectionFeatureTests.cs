using System.Net;
using System.Net.Sockets;
using System.Text;
using BpfSteer.Interop;

namespace Transport.BpfSteer.Tests;

/// <summary>Per-connection features: endpoints as the client sees them, a connection id, and the CPU facts.</summary>
public class ConnectionFeatureTests
{
    [Fact]
    public async Task Features_RawClient_EndpointsIdAndCookieMatchTheSocket()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer);
        var ids = new HashSet<string>();
        var cookies = new HashSet<ulong>();
        for (var i = 0; i < 3; i++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(IPAddress.Loopback, app.Port).DefaultTimeout();
            var peer = (await RawHttp.GetAsync(client, "/peer")).Split(' ');
            Assert.Equal($"127.0.0.1:{app.Port}", peer[0]);
            Assert.Equal(client.LocalEndPoint!.ToString(), peer[1]);
            Assert.True(ids.Add(peer[2]), "connection ids must be unique");

            var conn = (await RawHttp.GetAsync(client, "/conn")).Split(' ');
            var workerCpu = int.Parse(conn[0]);
            Assert.Contains(workerCpu, CpuAffinity.GetCurrentThreadAffinity());
            Assert.InRange(int.Parse(conn[1]), 0, Environment.ProcessorCount - 1);
            var cookie = ulong.Parse(conn[2]);
            Assert.NotEqual(0UL, cookie);
            Assert.True(cookies.Add(cookie), "socket cookies must be unique");
            Assert.NotEqual(NativeSocket.GetCookie(client.SafeHandle), cookie); // the server's socket, not the client's
        }
        app.Errors.AssertNoErrors();
    }
}
