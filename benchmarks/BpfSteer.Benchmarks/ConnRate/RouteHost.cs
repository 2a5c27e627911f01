using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Yarp.SockmapForwarder;

namespace BpfSteer.Benchmarks.ConnRate;

/// <summary>
/// ProxyHost's wiring (YARP + AddSockmapForwarder, single-line console logging with ProxyHost's default levels) with
/// the Kestrel transport chosen on the command line, so TCP routes can be measured on Kestrel's Sockets transport too.
/// Prints "tcp ROUTE ENDPOINT" per route and "ready" once listening. <c>--config FILE</c> adds a JSON file, as in ProxyHost.
/// </summary>
internal static class RouteHost
{
    public static int Run(string[] args)
    {
        var transport = args.Length >= 2 && args[0] == "--transport" ? args[1] : "bpfsteer";
        var rest = args.Length >= 2 && args[0] == "--transport" ? args[2..] : args;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = rest });
        if (builder.Configuration["config"] is { Length: > 0 } file)
        {
            // ProxyHost's --config FILE: a JSON file on top of the usual sources, reloaded on change.
            builder.Configuration.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: true);
        }
        builder.Logging.ClearProviders().AddSimpleConsole(o => o.SingleLine = true);
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData =
            [
                new("Logging:LogLevel:Default", "Information"),
                new("Logging:LogLevel:Microsoft.AspNetCore", "Warning"),
                new("Logging:LogLevel:Microsoft.Hosting.Lifetime", "Warning"),
                new("Logging:LogLevel:Yarp.ReverseProxy", "Warning"),
                new("Logging:LogLevel:Yarp.SockmapForwarder.AccessLog", "Warning"), // as ProxyHost: no line per connection
            ],
        });
        if (transport == "bpfsteer")
        {
            builder.WebHost.UseBpfSteeredTransport();
        }
        builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy")).AddSockmapForwarder();
        var app = builder.Build();
        app.MapReverseProxy();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            foreach (var route in app.Services.GetRequiredService<ISockmapForwarderStatus>().Routes)
            {
                Console.WriteLine($"tcp {route.Id} {route.Listen}");
            }
            Console.WriteLine($"ready transport={transport}");
            Console.Out.Flush();
        });
        app.Run();
        return 0;
    }
}
