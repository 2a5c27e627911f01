// The HTTP-proxy benchmark app: a minimal YARP reverse proxy (one catch-all route, one cluster) on either transport.
//   dotnet HttpProxyBenchApp.dll --transport bpfsteer|sockets --port 5000 --backend http://127.0.0.1:8080
//     [--scheduling Inline|ThreadPool]   (BpfSteer's ApplicationScheduling; omitted: the transport's default)
//     [--per-worker true|false]          (per-worker upstream pools; omitted: the default)
using BpfSteer.Transport;
using Yarp.ReverseProxy.Configuration;

var options = BenchArgs.Parse(args);
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseUrls($"http://127.0.0.1:{options.Port}");
if (options.Transport == "bpfsteer")
{
    builder.WebHost.UseBpfSteeredTransport(o =>
    {
        if (options.Scheduling is { } scheduling)
        {
            o.ApplicationScheduling = scheduling;
        }
    });
}
else if (options.Transport != "sockets")
{
    Console.Error.WriteLine($"--transport must be bpfsteer or sockets, not '{options.Transport}'.");
    return 2;
}

if (options.PerWorker is { } perWorker)
{
    builder.Configuration["BpfSteer:HttpUpstream:PerWorker"] = perWorker ? "true" : "false";
}
builder.Services.AddReverseProxy().AddPerWorkerHttpUpstream().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "backend", Match = new RouteMatch { Path = "{**catch-all}" } }],
    [new ClusterConfig { ClusterId = "backend", Destinations = new Dictionary<string, DestinationConfig> { ["b1"] = new() { Address = options.Backend } } }]);

var app = builder.Build();
// The transport's per-worker counters (upstream locality), for run.sh's locality figures.
app.MapGet("/_stats", (IServiceProvider sp) => sp.GetService<IBpfSteerTransportStatus>() is { } status
    ? Results.Text(string.Join('\n', status.Workers.Select(w =>
        $"cpu={w.Cpu} accepted={w.Accepted} upstreamOps={w.UpstreamOperations} upstreamOnWorkerCpu={w.UpstreamOperationsOnWorkerCpu} " +
        $"upstreamOpened={w.UpstreamConnectionsOpened} upstreamOpen={w.UpstreamOpenConnections}")) + "\n")
    : Results.NotFound());
app.MapReverseProxy();
app.Run();
return 0;

internal sealed record BenchArgs(string Transport, int Port, string Backend, ApplicationScheduling? Scheduling, bool? PerWorker)
{
    public static BenchArgs Parse(string[] args)
    {
        string? Value(string name)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }
        return new BenchArgs(
            Value("--transport") ?? "bpfsteer",
            int.Parse(Value("--port") ?? "5000"),
            Value("--backend") ?? "http://127.0.0.1:8080",
            Value("--scheduling") is { } s ? Enum.Parse<ApplicationScheduling>(s, ignoreCase: true) : null,
            Value("--per-worker") is { } p ? bool.Parse(p) : null);
    }
}
