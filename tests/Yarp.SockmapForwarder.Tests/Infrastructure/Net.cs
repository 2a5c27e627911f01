using System.Net;
using System.Net.Sockets;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

public static class Net
{
    /// <summary>A loopback port nothing listens on (bound then released; connecting gets ECONNREFUSED).</summary>
    public static int ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>A free loopback port for a server process that takes its port as an argument.</summary>
    public static int FreePort() => ClosedPort();

    public static async Task<Socket> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint).DefaultTimeout();
        return socket;
    }

    /// <summary>Sends <paramref name="data"/> and reads exactly as many bytes back.</summary>
    public static async Task<byte[]> RoundTripAsync(Socket socket, byte[] data)
    {
        await socket.SendAsync(data, SocketFlags.None).DefaultTimeout();
        return await ReceiveExactlyAsync(socket, data.Length);
    }

    public static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int length)
    {
        var received = new byte[length];
        var offset = 0;
        while (offset < length)
        {
            var n = await socket.ReceiveAsync(received.AsMemory(offset), SocketFlags.None).DefaultTimeout();
            Assert.True(n > 0, $"connection closed after {offset} of {length} bytes");
            offset += n;
        }
        return received;
    }

    /// <summary>Waits for the peer to close: true for FIN (recv returns 0) or RST, within <paramref name="timeout"/>.</summary>
    public static async Task<bool> ClosedWithinAsync(Socket socket, TimeSpan timeout)
    {
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public static byte[] Pattern(int length, int seed = 1)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}
