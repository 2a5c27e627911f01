// The benchmark app: the same two TechEmpower-style endpoints on either transport.
//   dotnet TransportBenchApp.dll --transport bpfsteer|sockets --port 5000 [--scheduling Inline|ThreadPool] [--selector Cbpf|Ebpf|None] [--cpus 0,1]
//     [--protocols Http1|Http2|Http1AndHttp2]
using System.Text;
using System.Text.Json.Serialization;
using BpfSteer.Transport;
using Microsoft.AspNetCore.Server.Kestrel.Core;

var options = BenchArgs.Parse(args);
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseUrls($"http://127.0.0.1:{options.Port}");
// --protocols Http2 for h2load's h2c with prior knowledge: on a plaintext endpoint Kestrel's Http1AndHttp2 only
// speaks HTTP/1.1 (measured: h2load gets no responses), so the h2c runs start the app with Http2 alone.
builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(l => l.Protocols = options.Protocols));
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, BenchJsonContext.Default));
if (options.Transport == "bpfsteer")
{
    builder.WebHost.UseBpfSteeredTransport(o =>
    {
        o.ApplicationScheduling = options.Scheduling;
        o.Selector = options.Selector;
        if (options.Cpus is { } cpus)
        {
            o.Cpus = cpus;
        }
    });
}
else if (options.Transport != "sockets")
{
    Console.Error.WriteLine($"--transport must be bpfsteer or sockets, not '{options.Transport}'.");
    return 2;
}

var app = builder.Build();
// Plaintext and JSON as in the TechEmpower benchmarks: tiny responses, so the transport's cost dominates.
app.MapGet("/plaintext", () => Results.Text("Hello, World!"));
app.MapGet("/json", () => Results.Json(new Message("Hello, World!"), BenchJsonContext.Default.Message));
// The transport's own counters, for the locality ratio (SO_INCOMING_CPU matched / accepted) with the selector on and off.
app.MapGet("/stats", (IServiceProvider sp) =>
{
    if (sp.GetService<IBpfSteerTransportStatus>() is not { } status)
    {
        return Results.NotFound();
    }
    var json = new StringBuilder($"{{\"selector\":\"{status.Selector}\",\"workers\":[");
    json.AppendJoin(',', status.Workers.Select(w =>
        $"{{\"cpu\":{w.Cpu},\"accepted\":{w.Accepted},\"incomingCpuMatched\":{w.IncomingCpuMatched}}}"));
    return Results.Text(json.Append("]}").ToString(), "application/json");
});
app.Run();
return 0;

internal sealed record Message(string message);

[JsonSerializable(typeof(Message))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;

internal sealed record BenchArgs(string Transport, int Port, ApplicationScheduling Scheduling, ReuseportSelector Selector, int[]? Cpus, HttpProtocols Protocols)
{
    public static BenchArgs Parse(string[] args)
    {
        string Value(string name, string fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        var cpus = Value("--cpus", "");
        return new BenchArgs(
            Value("--transport", "bpfsteer"),
            int.Parse(Value("--port", "5000")),
            Enum.Parse<ApplicationScheduling>(Value("--scheduling", "Inline"), ignoreCase: true),
            Enum.Parse<ReuseportSelector>(Value("--selector", "Cbpf"), ignoreCase: true),
            cpus.Length == 0 ? null : cpus.Split(',').Select(int.Parse).ToArray(),
            Enum.Parse<HttpProtocols>(Value("--protocols", "Http1"), ignoreCase: true));
    }
}
