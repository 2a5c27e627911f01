using System.Net;
using System.Net.Sockets;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>
/// A real TCP backend on 127.0.0.1:0: echoes every byte back, counts connections, and keeps the first bytes of each
/// connection (to check a PROXY header). Optionally strips a fixed-length preamble count before echoing.
/// </summary>
public sealed class EchoServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accept;
    private int _accepted;

    public EchoServer(string name = "echo", int keepFirstBytes = 0)
    {
        Name = name;
        KeepFirstBytes = keepFirstBytes;
        _listener.Start();
        _accept = AcceptLoopAsync();
    }

    public string Name { get; }

    public int KeepFirstBytes { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Address => ProxyConfig.Tcp(Port);

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>The first <see cref="KeepFirstBytes"/> bytes received on each connection, in accept order.</summary>
    public List<byte[]> FirstBytes { get; } = [];

    public TaskCompletionSource<byte[]> FirstBytesArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

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
        var kept = new MemoryStream();
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    socket.Shutdown(SocketShutdown.Send);
                    return;
                }
                var echoFrom = 0;
                if (kept.Length < KeepFirstBytes)
                {
                    var take = (int)Math.Min(n, KeepFirstBytes - kept.Length);
                    kept.Write(buffer, 0, take);
                    echoFrom = take;
                    if (kept.Length == KeepFirstBytes)
                    {
                        lock (FirstBytes)
                        {
                            FirstBytes.Add(kept.ToArray());
                        }
                        FirstBytesArrived.TrySetResult(kept.ToArray());
                    }
                }
                if (n > echoFrom)
                {
                    await socket.SendAsync(buffer.AsMemory(echoFrom, n - echoFrom), SocketFlags.None, _stop.Token);
                }
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (SocketException)
        {
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
