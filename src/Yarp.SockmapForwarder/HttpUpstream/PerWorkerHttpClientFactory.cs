using System.Net.Http;
using BpfSteer;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace Yarp.SockmapForwarder.HttpUpstream;

/// <summary>
/// Wraps the app's <see cref="IForwarderHttpClientFactory"/>. On the BpfSteer transport, a cluster's client is a
/// <see cref="PerWorkerHttpMessageHandler"/> (one pool per worker, connections in the worker's loop), or with
/// <see cref="HttpUpstreamOptions.PerWorker"/> off one shared pool whose locality is measured. Off BpfSteer (no
/// <see cref="IWorkerLoopProvider"/>), or when the app's factory is not a <see cref="ForwarderHttpClientFactory"/>, every
/// call goes to the app's factory unchanged.
/// </summary>
internal sealed class PerWorkerHttpClientFactory : IForwarderHttpClientFactory
{
    private readonly IForwarderHttpClientFactory _inner;
    private readonly IWorkerLoopProvider? _workers;
    private readonly HttpUpstreamOptions _options;
    private readonly ILogger _logger;
    private int _loggedInnerFactory;

    public PerWorkerHttpClientFactory(IForwarderHttpClientFactory inner, IWorkerLoopProvider? workers,
        IOptions<HttpUpstreamOptions> options, ILogger<PerWorkerHttpClientFactory> logger)
    {
        _inner = inner;
        _workers = workers;
        _options = options.Value;
        _logger = logger;
    }

    public HttpMessageInvoker CreateClient(ForwarderHttpClientContext context)
    {
        if (_workers is null)
        {
            return _inner.CreateClient(context);
        }
        if (_inner is not ForwarderHttpClientFactory factory)
        {
            if (Interlocked.Exchange(ref _loggedInnerFactory, 1) == 0)
            {
                HttpUpstreamLog.CustomFactory(_logger, _inner.GetType().FullName ?? _inner.GetType().Name);
            }
            return _inner.CreateClient(context);
        }
        if (context.OldClient is PerWorkerInvoker && ClusterHandlerBuilder.CanReuseOldClient(factory, context))
        {
            return context.OldClient;
        }
        var builder = new ClusterHandlerBuilder(factory, context);
        HttpMessageHandler handler = _options.PerWorker
            ? new PerWorkerHttpMessageHandler(builder, _workers, _logger)
            : builder.Build(UpstreamConnectors.SharedMeasured, null, out _);
        HttpUpstreamLog.ClientCreated(_logger, context.ClusterId, _options.PerWorker ? "per-worker pools" : "one shared pool");
        return new PerWorkerInvoker(handler);
    }

    /// <summary>The cluster client this factory made (so a reload with unchanged settings reuses it).</summary>
    internal sealed class PerWorkerInvoker(HttpMessageHandler handler) : HttpMessageInvoker(handler, disposeHandler: true)
    {
        public HttpMessageHandler Handler { get; } = handler;
    }
}
