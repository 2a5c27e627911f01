using Microsoft.Extensions.Configuration.Json;
using ProxyHost.Hosting;

namespace ProxyHost.Doctor;

/// <summary>
/// <c>ProxyHost doctor [--config FILE]</c>: checks kernel, capabilities, sysctls and the configuration, prints what
/// works, what does not and the exact fix. Exit code 0 when everything configured can work, 1 when something cannot,
/// 2 for a usage or unreadable-configuration error.
/// </summary>
internal static class DoctorCommand
{
    public static int Run(string[] args, TextWriter output)
    {
        IConfiguration configuration;
        string source;
        bool isDemo;
        try
        {
            (configuration, source, isDemo) = Load(args);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or FormatException or ArgumentException)
        {
            output.WriteLine($"ProxyHost doctor: {(ConfigFileError.TryDescribe(ex, out var message) ? message : "cannot read the configuration: " + ex.Message)}");
            return 2;
        }

        var tcpRoutes = TcpRouteSettings.Read(configuration);
        var checks = new List<DoctorCheck>();
        checks.AddRange(SystemChecks.Run(tcpRoutes, ConfigChecks.ListenPorts(configuration, tcpRoutes)));
        checks.AddRange(ConfigChecks.Run(configuration, tcpRoutes, isDemo));
        checks.AddRange(AdminChecks.Run(configuration));

        output.WriteLine($"ProxyHost doctor: configuration from {source}");
        foreach (var check in checks)
        {
            var tag = check.Outcome switch { DoctorOutcome.Ok => "[ ok ]", DoctorOutcome.Warn => "[warn]", _ => "[FAIL]" };
            output.WriteLine($"{tag} {check.Area,-10} {check.Finding.ReplaceLineEndings(" ")}");
            if (check.Fix is not null)
            {
                output.WriteLine($"       {"",-10} fix: {check.Fix}");
            }
        }
        var failed = checks.Count(c => c.Outcome == DoctorOutcome.Fail);
        var warned = checks.Count(c => c.Outcome == DoctorOutcome.Warn);
        output.WriteLine(failed == 0
            ? $"Result: everything configured can work ({warned} warning(s): degraded, not broken)."
            : $"Result: {failed} configured feature(s) cannot work, {warned} warning(s).");
        output.Flush();
        return failed == 0 ? 0 : 1;
    }

    // The same precedence as the host: --config FILE, else the usual sources, else the embedded demo; environment
    // variables and the command line apply on top.
    private static (IConfiguration Configuration, string Source, bool IsDemo) Load(string[] args)
    {
        var fromArgs = new ConfigurationBuilder().AddCommandLine(args).Build();
        if (fromArgs["config"] is { Length: > 0 } file)
        {
            var path = Path.GetFullPath(file);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"the file '{path}' given with --config does not exist.", path);
            }
            return (new ConfigurationBuilder().AddJsonFile(path, optional: false).AddEnvironmentVariables().AddCommandLine(args).Build(), path, false);
        }

        var usual = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(args);
        if (RouteSource.HasRoutes(usual.Build()))
        {
            return (usual.Build(), "appsettings.json, environment variables and the command line", false);
        }
        usual.Sources.Insert(0, new JsonStreamConfigurationSource { Stream = RouteSource.OpenDemoConfig() });
        return (usual.Build(), "the embedded demo configuration (no --config given)", true);
    }
}
