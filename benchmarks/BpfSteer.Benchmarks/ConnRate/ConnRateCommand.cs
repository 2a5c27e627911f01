using System.Globalization;

namespace BpfSteer.Benchmarks.ConnRate;

/// <summary>
/// <c>connrate</c> commands of benchmarks/connrate/run.sh:
///   client  --port P --concurrency N --seconds S [--warmup W] [--size B] [--greeting G]   one JSON line
///   backend --port P [--greeting G]                                                      echo (server-first with G)
///   host    --transport bpfsteer|sockets [ASP.NET configuration arguments]              ProxyHost's wiring
/// </summary>
internal static class ConnRateCommand
{
    public static int Run(string[] args)
    {
        var command = args.Length > 0 ? args[0] : "";
        if (command == "host")
        {
            return RouteHost.Run(args[1..]);
        }
        var options = ForwarderApp.Parse(args[1..]);
        string Get(string key, string fallback) => options.TryGetValue(key, out var v) ? v[0] : fallback;
        var port = int.Parse(Get("port", "0"), CultureInfo.InvariantCulture);
        var greeting = int.Parse(Get("greeting", "0"), CultureInfo.InvariantCulture);
        return command switch
        {
            "client" => ConnRateClient.Run(port, int.Parse(Get("concurrency", "1"), CultureInfo.InvariantCulture),
                double.Parse(Get("seconds", "3"), CultureInfo.InvariantCulture), double.Parse(Get("warmup", "0.3"), CultureInfo.InvariantCulture),
                int.Parse(Get("size", "1024"), CultureInfo.InvariantCulture), greeting),
            "backend" => ConnRateBackend.Run(port, greeting),
            _ => Usage(),
        };
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: connrate client|backend|host [options] (see ConnRateCommand.cs)");
        return 2;
    }
}
