using System.Net;
using System.Net.Sockets;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>A backend that accepts one connection and hands the test exactly the bytes it received, in order.</summary>
public sealed class HeaderCapturingBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private Socket? _accepted;

    public HeaderCapturingBackend() => _listener.Start();

    public string Address => ProxyConfig.Tcp(((IPEndPoint)_listener.LocalEndpoint).Port);

    public async Task<byte[]> ReceiveAsync(int length)
    {
        _accepted ??= await _listener.AcceptSocketAsync().DefaultTimeout();
        return await Net.ReceiveExactlyAsync(_accepted, length);
    }

    public ValueTask DisposeAsync()
    {
        _accepted?.Dispose();
        _listener.Stop();
        return ValueTask.CompletedTask;
    }
}
