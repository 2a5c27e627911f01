using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>
/// A real client, a real backend and the forwarder between them, all on 127.0.0.1: the test plays the YARP
/// integration (accept, connect) and hands both proxy-side sockets to <see cref="DataPathForwarder.ForwardAsync"/>.
/// </summary>
internal sealed class ProxiedConnection : IAsyncDisposable
{
    private ProxiedConnection(Socket user, Socket backend, Task<ForwardingResult> forwarding)
    {
        User = user;
        Backend = backend;
        Forwarding = forwarding;
    }

    /// <summary>The client application's socket.</summary>
    public Socket User { get; }

    /// <summary>The backend application's socket.</summary>
    public Socket Backend { get; }

    public Task<ForwardingResult> Forwarding { get; }

    public static async Task<ProxiedConnection> StartAsync(DataPathForwarder forwarder, TcpForwarderMode mode,
        Func<Socket, Socket, Task>? beforeForwarding = null, TimeSpan? idleTimeout = null, long maxQueued = 4 << 20,
        byte[]? preamble = null, byte[]? buffered = null, int route = 1, int? cpu = null, CancellationToken cancellationToken = default)
    {
        var (user, pc, pb, backend) = await ConnectAsync();
        if (beforeForwarding is not null)
        {
            await beforeForwarding(user, backend);
        }
        var request = new ForwardingRequest
        {
            Route = TestRoutes.Config($"route{route}", mode, idleTimeout ?? TimeSpan.FromSeconds(60), maxQueued), RouteIndex = route,
            Cpu = cpu, ClientSocket = pc, Backend = pb,
            BackendPreamble = preamble ?? ReadOnlyMemory<byte>.Empty, ClientBufferedData = buffered ?? ReadOnlyMemory<byte>.Empty,
        };
        var forwarding = forwarder.ForwardAsync(request, cancellationToken); // called as the route loop calls it: it must not block
        return new ProxiedConnection(user, backend, forwarding);
    }

    /// <summary>
    /// The four sockets of a proxied connection before anything forwards: the client application's, the proxy's client
    /// and backend sockets, and the backend application's.
    /// </summary>
    public static async Task<(Socket User, Socket ProxyClient, Socket ProxyBackend, Socket Backend)> ConnectAsync()
    {
        using var clientListener = Listen();
        using var backendListener = Listen();
        var user = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await user.ConnectAsync(clientListener.LocalEndPoint!).DefaultTimeout();
        var pc = await clientListener.AcceptAsync().DefaultTimeout();
        var pb = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await pb.ConnectAsync(backendListener.LocalEndPoint!).DefaultTimeout();
        var backend = await backendListener.AcceptAsync().DefaultTimeout();
        backend.NoDelay = true;
        return (user, pc, pb, backend);
    }

    public static Socket Listen()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        s.Listen(512);
        return s;
    }

    /// <summary>Sends <paramref name="data"/> in chunks.</summary>
    public static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var n = await socket.SendAsync(data[..Math.Min(data.Length, 1 << 20)], SocketFlags.None);
            data = data[n..];
        }
    }

    /// <summary>Reads until end of stream; returns the SHA-256 and the length.</summary>
    public static async Task<(byte[] Hash, long Length)> HashToEndAsync(Socket socket)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[256 * 1024];
        long total = 0;
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            sha.AppendData(buffer, 0, n);
            total += n;
        }
        return (sha.GetHashAndReset(), total);
    }

    public static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        var ms = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            ms.Write(buffer, 0, n);
        }
        return ms.ToArray();
    }

    public static async Task<byte[]> ReadExactlyAsync(Socket socket, int length)
    {
        var buffer = new byte[length];
        var got = 0;
        while (got < length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None);
            if (n == 0)
            {
                throw new EndOfStreamException($"stream ended after {got} of {length} bytes");
            }
            got += n;
        }
        return buffer;
    }

    public async ValueTask DisposeAsync()
    {
        User.Dispose();
        Backend.Dispose();
        try
        {
            await Forwarding.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
        }
    }
}
