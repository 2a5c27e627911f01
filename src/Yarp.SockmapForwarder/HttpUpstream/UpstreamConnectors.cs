using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using BpfSteer;

namespace Yarp.SockmapForwarder.HttpUpstream;

/// <summary>The ConnectCallbacks of the upstream pools: per worker (sockets in the worker's loop) or shared (measured).</summary>
internal static class UpstreamConnectors
{
    /// <summary>
    /// Connects on <paramref name="loop"/>: the name is resolved like SocketsHttpHandler's default connect does
    /// (IP literals directly, otherwise DNS), and the addresses are tried in order until one accepts.
    /// </summary>
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> ForWorker(IWorkerLoop loop)
        => async (context, cancellationToken) =>
        {
            var endPoint = context.DnsEndPoint;
            var addresses = IPAddress.TryParse(endPoint.Host, out var literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(endPoint.Host, cancellationToken).ConfigureAwait(false);
            SocketException? last = null;
            foreach (var address in addresses)
            {
                try
                {
                    var socket = await WorkerSocket.ConnectAsync(loop, new IPEndPoint(address, endPoint.Port), cancellationToken).ConfigureAwait(false);
                    return new WorkerSocketStream(socket);
                }
                catch (SocketException ex)
                {
                    last = ex;
                }
            }
            throw last ?? new SocketException((int)SocketError.HostNotFound);
        };

    /// <summary>
    /// SocketsHttpHandler's own connect (a <see cref="Socket"/> with NoDelay, <c>ConnectAsync(DnsEndPoint)</c>), with the
    /// stream wrapped to count where its reads and writes complete: the locality figure with per-worker pools off.
    /// </summary>
    public static async ValueTask<Stream> SharedMeasured(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
            return new MeasuredStream(new NetworkStream(socket, ownsSocket: true));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
