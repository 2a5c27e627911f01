using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Kestrel's side of a TCP route endpoint (<see cref="TcpRouteEndPoint"/>): binding it binds the route's own listeners
/// (<see cref="TcpRouteListeners"/>); Kestrel never receives a connection from it. Unbinding (server stop) closes the
/// listen sockets and the route's connections, as Kestrel did with its own connections before.
/// </summary>
internal sealed class TcpRouteListenerFactory(IServiceProvider services) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => endpoint is TcpRouteEndPoint;

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var route = ((TcpRouteEndPoint)endpoint).Route;
        // Resolved here, not in the constructor: Kestrel creates the factory while IServer is being built, and the
        // listeners need YARP's state, whose construction can resolve IServer.
        var listeners = services.GetRequiredService<TcpRouteListeners>();
        var listener = await listeners.BindAsync(route).ConfigureAwait(false);
        return new Placeholder(listeners, route, new TcpRouteEndPoint(route, listener.BoundEndPoint));
    }

    /// <summary>What Kestrel holds for the route: its accept loop waits here until the route is unbound.</summary>
    private sealed class Placeholder(TcpRouteListeners listeners, TcpRouteState route, EndPoint endPoint) : IConnectionListener
    {
        private readonly TaskCompletionSource<ConnectionContext?> _unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public EndPoint EndPoint => endPoint;

        public ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default) => new(_unbound.Task.WaitAsync(cancellationToken));

        public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            await listeners.UnbindAsync(route).ConfigureAwait(false);
            _unbound.TrySetResult(null);
        }

        public async ValueTask DisposeAsync() => await UnbindAsync().ConfigureAwait(false);
    }
}
