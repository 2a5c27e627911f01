using System.Net.Sockets;
using System.Security.Cryptography;
using BpfSteer.Testing;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>
/// The kernel's tcp_read_skb hands the verdict whole skbs even when their head was already read (docs/design.md,
/// "Sockmap: reading before insertion": a partial read before insertion duplicated the read bytes) or already received
/// ("Sockmap: overlapping retransmissions"). The verdict cuts everything before the source's next unseen sequence
/// number (cut_seen_head). A partial read before pairing is the deterministic way to put such an skb in front of the
/// verdict.
/// </summary>
[Collection(DataPathCollection.Name)]
public sealed class OverlapCutTests(ForwarderFixture fixture)
{
    [Fact]
    public async Task Forward_ClientBytesPartlyReadBeforePairing_EveryByteOnce()
    {
        var (user, pc, pb, backend) = await ProxiedConnection.ConnectAsync();
        using var userSocket = user;
        using var backendSocket = backend;

        // One 1,000-byte segment queued on the proxy's socket, of which the "transport" reads the first 10.
        var data = RandomNumberGenerator.GetBytes(1000);
        Assert.Equal(data.Length, user.Send(data));
        for (var i = 0; i < 200 && pc.Available < data.Length; i++)
        {
            await Task.Delay(5);
        }
        Assert.Equal(data.Length, pc.Available);
        var head = new byte[10];
        Assert.Equal(head.Length, pc.Receive(head));

        var request = new ForwardingRequest
        {
            Route = TestRoutes.Config("route9", TcpForwarderMode.Sockmap, TimeSpan.FromSeconds(60), 4 << 20), RouteIndex = 9,
            ClientSocket = pc, Backend = pb, ClientBufferedData = head,
        };
        var forwarding = Task.Run(() => fixture.Forwarder.ForwardAsync(request, CancellationToken.None));
        var received = await ProxiedConnection.ReadExactlyAsync(backend, data.Length).DefaultTimeout();
        Assert.Equal(data, received);
        user.Shutdown(SocketShutdown.Send);
        // Nothing after the 1,000 bytes but the end of the stream (without the cut: the 10 bytes again).
        Assert.Empty(await ProxiedConnection.ReadToEndAsync(backend).DefaultTimeout());
        backend.Shutdown(SocketShutdown.Send);
        var result = await forwarding.DefaultTimeout();
        Assert.Equal((DataPathKind.Sockmap, CloseReason.Completed, (long)data.Length), (result.Path, result.CloseReason, result.BytesClientToBackend));
    }
}
