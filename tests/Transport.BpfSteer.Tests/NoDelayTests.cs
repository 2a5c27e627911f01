using System.Net;
using System.Net.Sockets;
using BpfSteer;
using BpfSteer.Transport;
using Microsoft.AspNetCore.Connections;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// BpfSteerTransportOptions.NoDelay (default true, like Kestrel's SocketTransportOptions.NoDelay) is TCP_NODELAY on the
/// accepted socket itself, read back with getsockopt on the socket the transport hands off.
/// </summary>
public class NoDelayTests
{
    [Theory]
    [InlineData(null, true)]   // the default
    [InlineData(true, true)]
    [InlineData(false, false)]
    public async Task Accept_NoDelayOption_IsTheSocketsTcpNoDelay(bool? option, bool expected)
    {
        var observed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o =>
        {
            if (option is bool value)
            {
                o.NoDelay = value;
            }
        }, kestrel: k => k.Listen(IPAddress.Loopback, 0, l => l.Run(async connection =>
        {
            try
            {
                using var handoff = await connection.Features.Get<ISocketHandoffFeature>()!.DetachAsync();
                observed.TrySetResult((int)handoff.Socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.NoDelay)! != 0);
            }
            catch (Exception ex)
            {
                observed.TrySetException(ex);
            }
        })));

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, app.Port).DefaultTimeout();
        Assert.Equal(expected, await observed.Task.DefaultTimeout());
        app.Errors.AssertNoErrors();
    }
}
