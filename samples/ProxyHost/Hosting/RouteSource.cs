using System.Reflection;
using Microsoft.Extensions.Configuration.Json;

namespace ProxyHost.Hosting;

/// <summary>
/// Decides where the routes come from: <c>--config FILE</c>, the usual ASP.NET sources (appsettings.json in the
/// content root, environment variables, command line), or — when none of them declares a route — the embedded demo.
/// </summary>
internal sealed record RouteSource(bool IsDemo, string Description)
{
    private const string DemoResource = "ProxyHost.DefaultConfig.demo.json";

    public static RouteSource Apply(WebApplicationBuilder builder, string[] args)
    {
        // The command-line provider already turned `--config FILE` into the key "config".
        var file = builder.Configuration["config"];
        if (!string.IsNullOrEmpty(file))
        {
            var path = Path.GetFullPath(file);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"The configuration file '{path}' given with --config does not exist.", path);
            }
            builder.Configuration.AddJsonFile(path, optional: false, reloadOnChange: true);
            // Added after the file so the command line still wins, as it does in every ASP.NET app.
            builder.Configuration.AddCommandLine(args);
            return new RouteSource(false, path);
        }

        if (HasRoutes(builder.Configuration))
        {
            return new RouteSource(false, "appsettings.json, environment variables and the command line");
        }

        // Lowest priority: anything from environment or command line (e.g. --Kestrel:Endpoints:Http:Url) still overrides the demo.
        builder.Configuration.Sources.Insert(0, new JsonStreamConfigurationSource { Stream = OpenDemoConfig() });
        return new RouteSource(true, "the embedded demo configuration (DefaultConfig/demo.json) with in-process demo backends");
    }

    /// <summary>The embedded demo configuration, as shipped; doctor checks it when no file is given.</summary>
    public static Stream OpenDemoConfig() =>
        Assembly.GetExecutingAssembly().GetManifestResourceStream(DemoResource)
        ?? throw new InvalidOperationException($"The embedded resource '{DemoResource}' is missing from ProxyHost.dll.");

    // A route counts as declared when it names a cluster: a lone override such as
    // --ReverseProxy:TcpRoutes:demo-echo:Mode=UserSpace adjusts the demo instead of replacing it.
    public static bool HasRoutes(IConfiguration configuration) =>
        configuration.GetSection("ReverseProxy:Routes").GetChildren()
            .Concat(configuration.GetSection(TcpRouteSettings.SectionName).GetChildren())
            .Any(route => !string.IsNullOrEmpty(route["ClusterId"]));
}
