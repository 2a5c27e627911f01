using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyHost.Demo;

/// <summary>
/// A small TCP server for the demo routes: an echo server (client speaks first, like Redis or HTTP) and a greeter
/// (server speaks first, like SMTP or MySQL). The two cover both early-data directions of a passthrough route.
/// </summary>
internal sealed class TcpDemoBackend : IAsyncDisposable
{
    /// <summary>The line the greeter sends as soon as a client connects, before reading anything.</summary>
    public const string Greeting = "220 bpfsteer demo greeter ready\r\n";

    private readonly TcpListener _listener;
    private readonly Func<NetworkStream, CancellationToken, Task> _serve;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;

    private TcpDemoBackend(string name, Func<NetworkStream, CancellationToken, Task> serve)
    {
        Name = name;
        _serve = serve;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(512);
        _acceptLoop = AcceptLoopAsync();
    }

    public string Name { get; }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Echoes every byte back until the client closes its side, then closes.</summary>
    public static TcpDemoBackend StartEcho() => new("echo", static async (stream, ct) =>
    {
        await stream.CopyToAsync(stream, 64 * 1024, ct);
    });

    /// <summary>Greets on connect, then echoes like <see cref="StartEcho"/>.</summary>
    public static TcpDemoBackend StartGreeter() => new("greeter", static async (stream, ct) =>
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(Greeting), ct);
        await stream.CopyToAsync(stream, 64 * 1024, ct);
    });

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stopping.Token);
            }
            catch (Exception) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        client.NoDelay = true;
        await using var stream = new NetworkStream(client, ownsSocket: true);
        try
        {
            await _serve(stream, _stopping.Token);
            // The client half-closed: finish our direction too so the proxy sees a clean FIN, not a reset.
            client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A demo backend has no one to report a reset client to; the proxy logs the connection's close reason.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        _listener.Stop();
        await _acceptLoop;
        _stopping.Dispose();
    }
}
