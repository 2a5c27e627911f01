using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace ProxyHost.Admin;

/// <summary>
/// Adds the admin listener to Kestrel (one more endpoint, on whatever transport the app uses) and tags each of its
/// connections with <see cref="IAdminListenerFeature"/>. Runs when Kestrel reads its options, during
/// <c>builder.Build()</c>: an invalid or unbindable <c>BpfSteer:Admin:Url</c> stops the start there, naming the key.
/// </summary>
internal sealed class AdminListener(IOptions<AdminOptions> options) : IConfigureOptions<KestrelServerOptions>
{
    private ListenOptions? _listenOptions;

    /// <summary>The parsed <see cref="AdminOptions.Url"/>, once Kestrel has been configured.</summary>
    public AdminUrl? Url { get; private set; }

    /// <summary>
    /// A URL this machine can fetch the admin endpoints from, with the real port when 0 was asked for, once the server
    /// has started. When every address is bound it names 127.0.0.1: Kestrel answers 400 to the Host "[::]".
    /// </summary>
    public string? BoundUrl => Url is null || _listenOptions is null ? null : Url.Kind switch
    {
        BindKind.Localhost => $"http://localhost:{Url.Port}",
        BindKind.Any => $"http://127.0.0.1:{_listenOptions.IPEndPoint!.Port}",
        _ => $"http://{_listenOptions.IPEndPoint}",
    };

    /// <summary>Where the listener is bound, for people: <see cref="BoundUrl"/>, or <c>http://*:PORT</c> for every address.</summary>
    public string? BoundDescription => Url is { Kind: BindKind.Any } && _listenOptions is not null
        ? $"http://*:{_listenOptions.IPEndPoint!.Port} (every address)"
        : BoundUrl;

    public void Configure(KestrelServerOptions kestrel)
    {
        var value = options.Value; // validates: every problem of BpfSteer:Admin at once (OptionsValidationException)
        AdminUrl.TryParse(value.Url, out var url, out _);
        ProbeBind(value.Url, url);
        Url = url;
        Action<ListenOptions> configure = listen =>
        {
            _listenOptions = listen;
            listen.Use(next => connection =>
            {
                connection.Features.Set<IAdminListenerFeature>(AdminListenerFeature.Instance);
                return next(connection);
            });
        };
        switch (url.Kind)
        {
            case BindKind.Any:
                kestrel.ListenAnyIP(url.Port, configure);
                break;
            case BindKind.Localhost:
                kestrel.ListenLocalhost(url.Port, configure);
                break;
            default:
                kestrel.Listen(url.EndPoint, configure);
                break;
        }
    }

    /// <summary>
    /// Binds and releases the address once, so that an address this machine does not have, a port in use or a port
    /// below 1024 without CAP_NET_BIND_SERVICE is reported against <c>BpfSteer:Admin:Url</c>, not as a bare socket error
    /// from the middle of Kestrel's start. (Something could still take the port in between; Kestrel then reports it.)
    /// </summary>
    private static void ProbeBind(string configured, AdminUrl url)
    {
        try
        {
            using var probe = new Socket(url.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            // As Kestrel does: a port whose previous listener left connections in TIME_WAIT is free to bind.
            probe.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            probe.Bind(url.EndPoint);
        }
        catch (SocketException ex)
        {
            var why = ex.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "the port is already in use (ss -ltnp shows by what)",
                SocketError.AddressNotAvailable => "this machine has no such address",
                SocketError.AccessDenied => "ports below 1024 need root or CAP_NET_BIND_SERVICE",
                _ => ex.Message,
            };
            throw new AdminListenerException($"{AdminOptions.UrlKey} is '{configured}', which cannot be bound: {why}.", ex);
        }
    }
}
