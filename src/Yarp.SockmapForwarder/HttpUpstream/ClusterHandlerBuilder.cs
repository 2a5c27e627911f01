using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http;
using System.Reflection;
using Yarp.ReverseProxy.Forwarder;

namespace Yarp.SockmapForwarder.HttpUpstream;

/// <summary>
/// Builds a cluster's handlers exactly as the app's <see cref="ForwarderHttpClientFactory"/> would — YARP's defaults,
/// then its <c>ConfigureHandler</c> (the cluster's HttpClient settings, and an app override such as
/// <c>ConfigureHttpClient</c>'s callback), then its <c>WrapHandler</c> — except that it can build several, one per
/// worker, and set their ConnectCallback and connection limit. The factory's protected virtual methods are called
/// through open-instance delegates, so overrides in a derived factory apply as they would in YARP.
/// </summary>
internal sealed class ClusterHandlerBuilder(ForwarderHttpClientFactory factory, ForwarderHttpClientContext context)
{
    private static readonly Action<ForwarderHttpClientFactory, ForwarderHttpClientContext, SocketsHttpHandler> s_configure =
        Bind<Action<ForwarderHttpClientFactory, ForwarderHttpClientContext, SocketsHttpHandler>>("ConfigureHandler");
    private static readonly Func<ForwarderHttpClientFactory, ForwarderHttpClientContext, HttpMessageHandler, HttpMessageHandler> s_wrap =
        Bind<Func<ForwarderHttpClientFactory, ForwarderHttpClientContext, HttpMessageHandler, HttpMessageHandler>>("WrapHandler");
    private static readonly Func<ForwarderHttpClientFactory, ForwarderHttpClientContext, bool> s_canReuse =
        Bind<Func<ForwarderHttpClientFactory, ForwarderHttpClientContext, bool>>("CanReuseOldClient");

    public ForwarderHttpClientContext Context => context;

    /// <summary>The factory's CanReuseOldClient: the configuration did not change, keep the old client.</summary>
    public static bool CanReuseOldClient(ForwarderHttpClientFactory factory, ForwarderHttpClientContext context)
        => s_canReuse(factory, context);

    /// <summary>
    /// One handler: YARP's defaults (ForwarderHttpClientFactory.CreateClient), the factory's ConfigureHandler, then
    /// <paramref name="connect"/> (unless the factory set its own ConnectCallback) and <paramref name="maxConnectionsPerServer"/>,
    /// then WrapHandler. Returns whether the factory's own ConnectCallback was kept.
    /// </summary>
    public HttpMessageHandler Build(Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? connect,
        int? maxConnectionsPerServer, out bool ownConnectCallback)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
            ConnectTimeout = TimeSpan.FromSeconds(15),
        };
        s_configure(factory, context, handler);
        ownConnectCallback = handler.ConnectCallback is not null;
        if (!ownConnectCallback)
        {
            handler.ConnectCallback = connect;
        }
        if (maxConnectionsPerServer is { } max)
        {
            handler.MaxConnectionsPerServer = max;
        }
        return s_wrap(factory, context, handler);
    }

    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "ForwarderHttpClientFactory's protected methods are part of its public contract.")]
    private static TDelegate Bind<TDelegate>(string name) where TDelegate : Delegate
    {
        var method = typeof(ForwarderHttpClientFactory).GetMethod(name, BindingFlags.Instance | BindingFlags.NonPublic)
            ?? throw new MissingMethodException(nameof(ForwarderHttpClientFactory), name);
        // Open-instance delegate over a virtual method: calls the most derived override, as YARP's CreateClient does.
        return (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), null, method);
    }
}
