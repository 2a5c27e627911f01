using ProxyHost.Admin;

namespace ProxyHost.Doctor;

/// <summary>
/// The admin listener (<c>BpfSteer:Admin</c>): the same checks the host makes at start (a URL Kestrel can bind, a port
/// of its own), plus a warning when it is reachable beyond loopback.
/// </summary>
internal static class AdminChecks
{
    public static IEnumerable<DoctorCheck> Run(IConfiguration configuration)
    {
        var options = configuration.GetSection(AdminOptions.SectionName).Get<AdminOptions>() ?? new AdminOptions();
        var problems = AdminOptionsValidator.Problems(options, configuration);
        foreach (var problem in problems)
        {
            yield return DoctorCheck.Fail("admin", problem,
                $"Set {AdminOptions.UrlKey} to a loopback URL with a port no other endpoint uses, or to http://127.0.0.1:0 (the default: a free port).");
        }
        if (problems.Count > 0 || !AdminUrl.TryParse(options.Url, out var url, out _))
        {
            yield break;
        }

        if (ConfigChecks.PortInUse(url.EndPoint) is { } error)
        {
            yield return DoctorCheck.Warn("admin", $"{AdminOptions.UrlKey} {options.Url} cannot be bound now: {error}.",
                "Stop what holds the port (ss -ltnp), or pick another port; ignore if this ProxyHost is already running.");
        }
        if (url.IsLoopback)
        {
            var port = url.Port == 0 ? " (port 0: a free port chosen at start and printed in the summary; fix one for Prometheus)" : "";
            yield return DoctorCheck.Ok("admin", $"{AdminOptions.UrlKey} is '{options.Url}': the status page, JSON, health and metrics are on loopback only{port}.");
        }
        else
        {
            yield return DoctorCheck.Warn("admin",
                $"{AdminOptions.UrlKey} is '{options.Url}': the admin listener is reachable beyond loopback; anyone who can connect reads the routes, listen addresses, backend health and kernel details.",
                $"Keep {AdminOptions.UrlKey} on 127.0.0.1 (the default) and scrape through a local agent or an SSH tunnel, or firewall the port to your monitoring hosts.");
        }
        if (options.ProxyHealthPath is { } path)
        {
            yield return DoctorCheck.Ok("admin", $"{AdminOptions.ProxyHealthPathKey} is '{path}': the proxy's HTTP endpoints answer it (status word only) instead of forwarding it.");
        }
    }
}
