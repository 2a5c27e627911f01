using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>Reads the proxy app's own <c>Yarp.SockmapForwarder</c> instruments (scoped to its IMeterFactory: tests run in parallel).</summary>
public sealed class MetricsReader : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _values = new();

    public MetricsReader(ProxyApp app)
    {
        var factory = app.App.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Yarp.SockmapForwarder" && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var key = instrument.Name + string.Concat(tags.ToArray().OrderBy(t => t.Key).Select(t => $",{t.Key}={t.Value}"));
            _values[key] = value;
        });
        _listener.Start();
    }

    /// <summary>The current value of an observable instrument, e.g. ("yarp.sockmap.tcp.rejected", "reason=no-destination,route=r").</summary>
    public long Read(string instrument, string tags)
    {
        _listener.RecordObservableInstruments();
        return _values.TryGetValue(instrument + "," + tags, out var v) ? v : 0;
    }

    public IReadOnlyDictionary<string, long> All()
    {
        _listener.RecordObservableInstruments();
        return new Dictionary<string, long>(_values);
    }

    public void Dispose() => _listener.Dispose();
}
