using System.Net;
using System.Net.Sockets;

namespace BpfSteer.Internal;

/// <summary>A connected TCP pair on 127.0.0.1 (for probes and self-tests).</summary>
internal sealed class LoopbackPair : IDisposable
{
    private LoopbackPair(Socket client, Socket accepted)
    {
        Client = client;
        Accepted = accepted;
    }

    public Socket Client { get; }

    public Socket Accepted { get; }

    public static LoopbackPair Create()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        return new LoopbackPair(client, listener.Accept());
    }

    public void Dispose()
    {
        Client.Dispose();
        Accepted.Dispose();
    }
}
