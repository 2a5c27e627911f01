using Microsoft.Extensions.Hosting;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Creates the TCP route listeners when the host starts (so routes a reload adds are bound even when none existed at
/// start) and, when it stops, closes what Kestrel does not know about: routes bound by a reload, and any connection
/// still open.
/// </summary>
internal sealed class TcpRouteListenerService(TcpRouteTable table, IServiceProvider services) : IHostedService
{
    private TcpRouteListeners? _listeners;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var routes = table.EnsureLoaded();
        if (routes.Any(r => r.Config.Mode != TcpForwarderMode.UserSpace))
        {
            // The sockmap probe (BPF load and self-test) runs here, at start, not on the loop of the first connection
            // that asks for it.
            _ = ((IDataPathInfo)services.GetService(typeof(IDataPathInfo))!).SockmapAvailability;
        }
        _listeners = (TcpRouteListeners)services.GetService(typeof(TcpRouteListeners))!;
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listeners is not null)
        {
            await _listeners.DisposeAsync().ConfigureAwait(false);
        }
    }
}
