using System.Net.Http;
using Yarp.ReverseProxy.Forwarder;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Wraps the app's <see cref="IForwarderHttpClientFactory"/> so that each cluster's client answers YARP's active health
/// probes of <c>tcp://</c> destinations with a TCP connect (<see cref="TcpConnectProbeHandler"/>). YARP's own monitor keeps
/// running the probes: the cluster's HealthCheck.Active Enabled, Interval, Timeout and Policy (ConsecutiveFailures by
/// default) apply unchanged, and the policy writes the result with IDestinationHealthUpdater.SetActive.
/// </summary>
internal sealed class TcpProbeHttpClientFactory(IForwarderHttpClientFactory inner) : IForwarderHttpClientFactory
{
    public HttpMessageInvoker CreateClient(ForwarderHttpClientContext context)
    {
        var oldWrapper = context.OldClient as TcpProbeInvoker;
        var innerContext = new ForwarderHttpClientContext
        {
            ClusterId = context.ClusterId,
            OldConfig = context.OldConfig,
            OldMetadata = context.OldMetadata,
            OldClient = oldWrapper?.Inner ?? context.OldClient,
            NewConfig = context.NewConfig,
            NewMetadata = context.NewMetadata,
        };
        var client = inner.CreateClient(innerContext);
        if (oldWrapper is not null && ReferenceEquals(client, oldWrapper.Inner))
        {
            return oldWrapper; // the inner factory reused its client: keep the wrapper too
        }
        return new TcpProbeInvoker(client);
    }

    /// <summary>A cluster's client: TCP connect probes for tcp:// URIs, everything else to the inner client.</summary>
    internal sealed class TcpProbeInvoker(HttpMessageInvoker inner) : HttpMessageInvoker(new TcpConnectProbeHandler(inner), disposeHandler: true)
    {
        public HttpMessageInvoker Inner { get; } = inner;
    }
}
