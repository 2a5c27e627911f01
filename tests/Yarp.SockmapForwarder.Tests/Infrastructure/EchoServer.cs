using System.Net;
using System.Net.Sockets;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>
/// A real TCP backend on 127.0.0.1:0: echoes every byte back and counts connections. With
/// <c>stripProxyV2Header</c>, a PROXY v2 header at the start of a connection is recorded in <see cref="Headers"/> and not
/// echoed (connections without one are echoed whole), so a test can switch the header on by a live reload.
/// </summary>
public sealed class EchoServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accept;
    private int _accepted;

    private static readonly byte[] s_v2Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public EchoServer(string name = "echo", bool stripProxyV2Header = false)
    {
        Name = name;
        StripProxyV2Header = stripProxyV2Header;
        _listener.Start();
        _accept = AcceptLoopAsync();
    }

    public string Name { get; }

    public bool StripProxyV2Header { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Address => ProxyConfig.Tcp(Port);

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>The PROXY v2 headers received (with <see cref="StripProxyV2Header"/>), in arrival order.</summary>
    public List<byte[]> Headers { get; } = [];

    public TaskCompletionSource<byte[]> HeaderArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            Interlocked.Increment(ref _accepted);
            lock (_connections)
            {
                _connections.Add(EchoAsync(socket));
            }
        }
    }

    private async Task EchoAsync(Socket socket)
    {
        using var _ = socket;
        var buffer = new byte[64 * 1024];
        try
        {
            var start = StripProxyV2Header ? await ReadHeaderAsync(socket) : [];
            if (start.Length > 0)
            {
                await socket.SendAsync(start, SocketFlags.None, _stop.Token);
            }
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    socket.Shutdown(SocketShutdown.Send);
                    return;
                }
                await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>Reads until the start either is a whole PROXY v2 header (recorded, dropped) or cannot be one; returns the bytes to echo.</summary>
    private async Task<byte[]> ReadHeaderAsync(Socket socket)
    {
        var start = new List<byte>();
        var chunk = new byte[256];
        while (true)
        {
            var prefix = Math.Min(start.Count, s_v2Signature.Length);
            if (!start.Take(prefix).SequenceEqual(s_v2Signature.Take(prefix)))
            {
                return [.. start]; // not a header: echo everything
            }
            if (start.Count >= 16 && start.Count >= 16 + (start[14] << 8 | start[15]))
            {
                var length = 16 + (start[14] << 8 | start[15]);
                var header = start.Take(length).ToArray();
                lock (Headers)
                {
                    Headers.Add(header);
                }
                HeaderArrived.TrySetResult(header);
                return [.. start.Skip(length)];
            }
            var n = await socket.ReceiveAsync(chunk, SocketFlags.None, _stop.Token);
            if (n == 0)
            {
                return [.. start];
            }
            start.AddRange(chunk.AsSpan(0, n).ToArray());
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accept;
        Task[] all;
        lock (_connections)
        {
            all = [.. _connections];
        }
        await Task.WhenAll(all).DefaultTimeout();
    }
}
