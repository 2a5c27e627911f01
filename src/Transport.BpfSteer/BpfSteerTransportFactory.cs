using System.Net;
using System.Runtime.Versioning;
using BpfSteer.Interop;
using BpfSteer.Transport.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BpfSteer.Transport;

/// <summary>
/// Kestrel's connection listener factory for the BpfSteer transport. Binds IPv4/IPv6 endpoints; every other endpoint
/// kind (Unix sockets, file handles) is left to Kestrel's Sockets transport through <see cref="CanBind"/>.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class BpfSteerTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly BpfSteerTransportOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly BpfSteerTransportState _state;
    private readonly IMemoryPoolFactory<byte>? _memoryPoolFactory;

    internal BpfSteerTransportFactory(
        IOptions<BpfSteerTransportOptions> options,
        ILoggerFactory loggerFactory,
        BpfSteerTransportState state,
        IMemoryPoolFactory<byte>? memoryPoolFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The BpfSteer transport needs Linux (SO_REUSEPORT groups with BPF selectors, epoll).");
        }
        NativeAbi.ThrowIfUnchecked("The BpfSteer transport");
        _options = options.Value;
        _loggerFactory = loggerFactory;
        _state = state;
        _memoryPoolFactory = memoryPoolFactory;
    }

    /// <inheritdoc />
    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not IPEndPoint ip)
        {
            throw new NotSupportedException($"The BpfSteer transport binds IP endpoints only, not '{endpoint}'.");
        }
        var cpus = BpfSteerTransportOptionsValidator.ResolveCpus(_options);
        var pool = await _state.AcquireWorkersAsync(cpus, _options, _memoryPoolFactory, _loggerFactory).ConfigureAwait(false);
        try
        {
            var listener = new BpfSteerConnectionListener(ip, pool, _options, _state, _loggerFactory.CreateLogger<BpfSteerConnectionListener>());
            await listener.BindAsync().ConfigureAwait(false);
            return listener;
        }
        catch
        {
            await _state.ReleaseWorkersAsync(pool).ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint;
}
