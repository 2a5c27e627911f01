using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>A TLS backend (SslStream server with the test certificate) that echoes what it decrypts.</summary>
public sealed class TlsEchoServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private int _accepted;
    private int _handshakes;

    public TlsEchoServer()
    {
        _listener.Start();
        _accept = AcceptLoopAsync();
    }

    public string Address => ProxyConfig.Tcp(((IPEndPoint)_listener.LocalEndpoint).Port);

    public int Accepted => Volatile.Read(ref _accepted);

    public int Handshakes => Volatile.Read(ref _handshakes);

    /// <summary>The SNI names the server saw, as SslStream reports them (proves the ClientHello arrived unchanged).</summary>
    public List<string> ServerNames { get; } = [];

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
            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = Tls.Certificate }, _stop.Token);
            Interlocked.Increment(ref _handshakes);
            lock (ServerNames)
            {
                ServerNames.Add(ssl.TargetHostName);
            }
            var buffer = new byte[16 * 1024];
            int n;
            while ((n = await ssl.ReadAsync(buffer, _stop.Token)) > 0)
            {
                await ssl.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception)
        {
            // A client that went away mid-handshake: nothing to echo.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accept;
    }
}
