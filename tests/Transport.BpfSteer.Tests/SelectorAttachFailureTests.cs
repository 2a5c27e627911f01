using System.Net;
using BpfSteer.Interop;
using BpfSteer.Testing;
using BpfSteer.Transport;
using BpfSteer.Transport.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// The selector cannot be attached: a clear error naming the setting, or — when the user opted in — a logged fallback
/// to plain reuseport hashing that still serves. The failure is real: the binding thread drops CAP_BPF/CAP_SYS_ADMIN
/// from its effective set (capabilities are per thread; the attach runs synchronously on the thread calling
/// BindAsync once the workers exist), so loading the eBPF program fails with EPERM.
/// </summary>
[Collection(nameof(CpuBoundCollection))]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class SelectorAttachFailureTests
{
    [Fact]
    public async Task EbpfWithoutCapBpf_NoFallback_ErrorNamesSettingAndCapability()
    {
        await using var factory = new FactoryScope(allowFallback: false);
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => factory.BindWithoutBpfCapabilityAsync());
        Assert.Contains("BpfSteer:Transport:Selector", ex.Message);
        Assert.Contains("CAP_BPF", ex.Message);
        Assert.Contains("AllowSelectorFallback", ex.Message);
    }

    [Fact]
    public async Task EbpfWithoutCapBpf_FallbackAllowed_BindsServesAndSaysWhy()
    {
        await using var factory = new FactoryScope(allowFallback: true);
        var listener = await factory.BindWithoutBpfCapabilityAsync();
        await using (listener)
        {
            Assert.Equal(ReuseportSelector.None, factory.State.Selector);
            Assert.Contains("fell back", factory.State.SelectorDetail);
            Assert.Contains("CAP_BPF", factory.State.SelectorDetail);

            var port = ((IPEndPoint)listener.EndPoint).Port;
            using var client = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            await client.ConnectAsync(IPAddress.Loopback, port).DefaultTimeout();
            var connection = await listener.AcceptAsync().AsTask().DefaultTimeout();
            Assert.NotNull(connection);
            await connection!.Transport.Output.WriteAsync("ok"u8.ToArray()).AsTask().DefaultTimeout();
            var buffer = new byte[2];
            Assert.Equal(2, await client.ReceiveAsync(buffer).DefaultTimeout());
            connection.Abort(new Microsoft.AspNetCore.Connections.ConnectionAbortedException("done"));
            await connection.DisposeAsync();
        }
    }

    /// <summary>A factory with a first listener bound (so the workers run), for binding a second endpoint.</summary>
    private sealed class FactoryScope : IAsyncDisposable
    {
        private readonly BpfSteerTransportFactory _factory;
        private readonly BpfSteerTransportOptions _options;
        private Microsoft.AspNetCore.Connections.IConnectionListener? _first;

        public FactoryScope(bool allowFallback)
        {
            _options = new BpfSteerTransportOptions { Cpus = [0, 1], Selector = ReuseportSelector.Ebpf, AllowSelectorFallback = allowFallback };
            State = new BpfSteerTransportState();
            _factory = new BpfSteerTransportFactory(Options.Create(_options), NullLoggerFactory.Instance, State);
        }

        public BpfSteerTransportState State { get; }

        public async Task<Microsoft.AspNetCore.Connections.IConnectionListener> BindWithoutBpfCapabilityAsync()
        {
            _first ??= await _factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0)).AsTask().DefaultTimeout();
            ValueTask<Microsoft.AspNetCore.Connections.IConnectionListener> bind;
            var saved = ThreadCapabilitySet.Drop(21, 38, 39); // CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF
            try
            {
                bind = _factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
            }
            finally
            {
                ThreadCapabilitySet.Restore(saved);
            }
            return await bind.AsTask().DefaultTimeout();
        }

        public async ValueTask DisposeAsync()
        {
            if (_first is not null)
            {
                await _first.DisposeAsync();
            }
            State.Dispose();
        }
    }
}
