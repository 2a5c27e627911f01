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
            var peer = (await GetAsync(client, "/peer")).Split(' ');
            Assert.Equal($"127.0.0.1:{app.Port}", peer[0]);
            Assert.Equal(client.LocalEndPoint!.ToString(), peer[1]);
            Assert.True(ids.Add(peer[2]), "connection ids must be unique");

            var conn = (await GetAsync(client, "/conn")).Split(' ');
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

    private static async Task<string> GetAsync(Socket client, string path)
    {
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")).DefaultTimeout();
        var buffer = new byte[4096];
        var text = new StringBuilder();
        while (true)
        {
            var n = await client.ReceiveAsync(buffer).DefaultTimeout();
            Assert.True(n > 0);
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            var s = text.ToString();
            var headerEnd = s.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headerEnd < 0)
            {
                continue;
            }
            var length = int.Parse(s.Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)).Split(':')[1]);
            if (s.Length >= headerEnd + 4 + length)
            {
                return s.Substring(headerEnd + 4, length);
            }
        }
    }
}
