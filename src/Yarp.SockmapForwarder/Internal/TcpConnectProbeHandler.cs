using System.Net;
using System.Net.Http;
using System.Net.Sockets;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// A TCP-connect health probe behind the HTTP client interface YARP's active health monitor uses: a request to
/// <c>tcp://host:port/…</c> connects (bounded by the probe's Timeout through the cancellation token) and answers 200 when the
/// connection is accepted, or throws like a failed HTTP probe. Other schemes (a destination's own http:// Health address)
/// go to the cluster's real HTTP client.
/// </summary>
internal sealed class TcpConnectProbeHandler(HttpMessageInvoker inner) : HttpMessageHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri;
        if (uri is null || !string.Equals(uri.Scheme, TcpDestinationAddress.Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return await inner.SendAsync(request, cancellationToken);
        }
        if (uri.Port <= 0)
        {
            throw new HttpRequestException($"The TCP health probe address '{uri}' has no port.");
        }
        var endPoint = new TcpDestinationAddress(uri.DnsSafeHost, uri.Port).ToEndPoint();
        using var socket = endPoint.AddressFamily == AddressFamily.Unspecified
            ? new Socket(SocketType.Stream, ProtocolType.Tcp)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
        }
        catch (SocketException ex)
        {
            throw new HttpRequestException($"TCP health probe of {uri.Authority} failed: {ex.SocketErrorCode}", ex);
        }
        // Close with RST-free FIN right away: the probe proves the listener accepts, nothing more.
        socket.Shutdown(SocketShutdown.Both);
        return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Version = request.Version };
    }

    /// <summary>Synchronous sends pass through to the cluster's HTTP client; a tcp:// probe is asynchronous only.</summary>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri;
        if (uri is not null && string.Equals(uri.Scheme, TcpDestinationAddress.Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return base.Send(request, cancellationToken);
        }
        return inner.Send(request, cancellationToken);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
