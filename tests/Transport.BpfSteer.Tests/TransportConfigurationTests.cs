using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using BpfSteer.Transport;
using BpfSteer.Transport.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Transport.BpfSteer.Tests;

/// <summary>Options, errors, endpoint fallback, status and metrics.</summary>
[Collection(nameof(CpuBoundCollection))]
public class TransportConfigurationTests
{
    [Fact]
    public async Task Options_FromConfigurationSection_Applied()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, configureBuilder: b => b.Configuration.AddInMemoryCollection(
            new Dictionary<string, string?> { ["BpfSteer:Transport:Cpus:0"] = "1", ["BpfSteer:Transport:Selector"] = "None", ["BpfSteer:Transport:Backlog"] = "64",
                ["BpfSteer:Transport:IdleSpin"] = "00:00:00.0002" }));
        var options = app.Services.GetRequiredService<IOptions<BpfSteerTransportOptions>>().Value;
        Assert.Equal([1], options.Cpus!);
        Assert.Equal(64, options.Backlog);
        Assert.Equal(TimeSpan.FromMicroseconds(200), options.IdleSpin);
        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        Assert.Equal(ReuseportSelector.None, status.Selector);
        Assert.Equal(1, Assert.Single(status.Workers).Cpu);
        Assert.Equal($"127.0.0.1:{app.Port}", Assert.Single(status.Endpoints));
    }

    [Fact]
    public async Task Options_CpuOutsideAffinity_ErrorNamesSetting()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => TestApp.StartAsync(TransportKind.BpfSteer, o => o.Cpus = [99, 0, 0]));
        var message = Flatten(ex);
        Assert.Contains("'99'", message);
        Assert.Contains("BpfSteer:Transport:Cpus", message);
        Assert.Contains("more than once", message);
    }

    [Theory]
    [InlineData("-00:00:00.001")]
    [InlineData("00:00:00.002")]
    public async Task Options_IdleSpinOutOfRange_ErrorNamesSetting(string value)
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => TestApp.StartAsync(TransportKind.BpfSteer, o => o.IdleSpin = TimeSpan.Parse(value)));
        var message = Flatten(ex);
        Assert.Contains("BpfSteer:Transport:IdleSpin", message);
        Assert.Contains(value, message);
    }

    [Fact]
    public async Task Bind_PortHeldByPlainSocket_AddressInUseException()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => TestApp.StartAsync(TransportKind.BpfSteer, url: $"http://127.0.0.1:{port}"));
        Assert.Contains(Chain(ex), e => e is AddressInUseException);
    }

    [Fact]
    public async Task Bind_PortHeldByAnotherBpfSteerGroup_AddressInUseExceptionNotSilentJoin()
    {
        await using var first = await TestApp.StartAsync(TransportKind.BpfSteer);
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => TestApp.StartAsync(TransportKind.BpfSteer, url: $"http://127.0.0.1:{first.Port}"));
        Assert.Contains(Chain(ex), e => e is AddressInUseException);
    }

    [Fact]
    public async Task UnixSocketEndpoint_LeftToKestrelSockets_Served()
    {
        var path = Path.Combine(Path.GetTempPath(), $"bpfsteer-{Guid.NewGuid():N}.sock");
        try
        {
            await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, kestrel: k =>
            {
                k.ListenUnixSocket(path);
                k.Listen(IPAddress.Loopback, 0);
            });
            Assert.Equal("Hello, World!", await ClientProcess.CurlAsync("--unix-socket", path, "http://x/plaintext"));
            var tcp = app.App.Urls.First(u => u.StartsWith("http://127.0.0.1", StringComparison.Ordinal));
            Assert.NotEqual("none", await ClientProcess.CurlAsync(tcp + "/conn"));
            Assert.Single(app.Services.GetRequiredService<IBpfSteerTransportStatus>().Endpoints);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Metrics_PerWorkerCounters_MatchStatus()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.Cpus = [0, 1]);
        foreach (var cpu in new[] { 0, 1 })
        {
            await PinnedClients.GetConnFromCpuAsync(cpu, app.Port, 10).DefaultTimeout();
        }
        var meterFactory = app.Services.GetRequiredService<IMeterFactory>();
        var seen = new List<(string Name, long Value, int Cpu)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == TransportMetrics.MeterName && instrument.Meter.Scope == meterFactory)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "cpu")
                {
                    seen.Add((instrument.Name, value, (int)tag.Value!));
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();

        var status = app.Services.GetRequiredService<IBpfSteerTransportStatus>();
        foreach (var w in status.Workers)
        {
            Assert.Equal(10, w.Accepted);
            Assert.Contains(("bpfsteer.transport.accepted", w.Accepted, w.Cpu), seen);
            Assert.Contains(("bpfsteer.transport.incoming_cpu_matched", w.IncomingCpuMatched, w.Cpu), seen);
            Assert.Contains(("bpfsteer.transport.active_connections", w.ActiveConnections, w.Cpu), seen);
        }
    }

    [Fact]
    public async Task TcpMigrateReq_ZeroBeforeStart_OneWhileBoundRestoredAfter()
    {
        var original = File.ReadAllText(TcpMigrateRequest.SysctlPath).Trim();
        try
        {
            File.WriteAllText(TcpMigrateRequest.SysctlPath, "0");
            var app = await TestApp.StartAsync(TransportKind.BpfSteer);
            Assert.Equal("1", File.ReadAllText(TcpMigrateRequest.SysctlPath).Trim());
            await app.DisposeAsync();
            Assert.Equal("0", File.ReadAllText(TcpMigrateRequest.SysctlPath).Trim());
        }
        finally
        {
            File.WriteAllText(TcpMigrateRequest.SysctlPath, original);
        }
    }

    private static IEnumerable<Exception> Chain(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException agg)
            {
                foreach (var inner in agg.InnerExceptions.SelectMany(Chain))
                {
                    yield return inner;
                }
            }
        }
    }

    private static string Flatten(Exception ex) => string.Join(" | ", Chain(ex).Select(e => e.Message));
}
