using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace BpfSteer.Transport.Internal;

// The features Kestrel's TransportConnection offers, plus BpfSteer's own (CPU facts, socket hand-off).
internal sealed partial class BpfSteerConnection :
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IMemoryPoolFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature, IBpfSteerConnectionFeature, IWorkerLoopFeature
{

    public override IFeatureCollection Features => _features ??= CreateFeatures();

    public int WorkerCpu => _worker.Cpu;

    public int IncomingCpu { get; }

    IWorkerLoop IWorkerLoopFeature.Loop => _worker;

    public ulong SocketCookie { get; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    MemoryPool<byte> IMemoryPoolFeature.MemoryPool => MemoryPool;

    IDuplexPipe IConnectionTransportFeature.Transport
    {
        get => Transport;
        set => Transport = value;
    }

    void IConnectionLifetimeFeature.Abort() => Abort(new ConnectionAbortedException("The connection was aborted by the application via IConnectionLifetimeFeature.Abort()."));

    private FeatureCollection CreateFeatures()
    {
        var features = new FeatureCollection();
        features.Set<IConnectionIdFeature>(this);
        features.Set<IConnectionTransportFeature>(this);
        features.Set<IConnectionItemsFeature>(this);
        features.Set<IMemoryPoolFeature>(this);
        features.Set<IConnectionLifetimeFeature>(this);
        features.Set<IConnectionEndPointFeature>(this);
        features.Set<IBpfSteerConnectionFeature>(this);
        features.Set<IWorkerLoopFeature>(this);
        features.Set<ISocketHandoffFeature>(new HandoffFeature(this));
        return features;
    }
}
