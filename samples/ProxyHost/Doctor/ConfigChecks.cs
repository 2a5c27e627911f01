using System.Net;
using System.Net.Sockets;
using ProxyHost.Admin;
using ProxyHost.Hosting;

namespace ProxyHost.Doctor;

/// <summary>
/// Checks the route configuration ProxyHost would run. Like YARP's validators it reports every problem, each naming
/// the key and the route or cluster, instead of stopping at the first.
/// </summary>
internal static class ConfigChecks
{
    private static readonly string[] s_modes = ["Auto", "Sockmap", "UserSpace"];

    // isDemo: the embedded demo, whose destinations are port-0 placeholders filled in at start.
    public static IEnumerable<DoctorCheck> Run(IConfiguration configuration, IReadOnlyList<TcpRouteSettings> tcpRoutes, bool isDemo)
    {
        var clusters = configuration.GetSection("ReverseProxy:Clusters").GetChildren().ToDictionary(c => c.Key, StringComparer.OrdinalIgnoreCase);
        var httpRoutes = configuration.GetSection("ReverseProxy:Routes").GetChildren().ToList();
        var cpus = ProcessInfo.AllowedCpus();
        var failures = 0;

        foreach (var route in httpRoutes)
        {
            var clusterId = route["ClusterId"];
            if (clusterId is null || !clusters.ContainsKey(clusterId))
            {
                failures++;
                yield return DoctorCheck.Fail("config", $"ReverseProxy:Routes:{route.Key}:ClusterId is '{clusterId}', which is not a cluster in ReverseProxy:Clusters.",
                    $"Add the cluster '{clusterId}' or point the route '{route.Key}' at one of: {string.Join(", ", clusters.Keys)}.");
            }
        }

        foreach (var route in tcpRoutes)
        {
            var key = $"{TcpRouteSettings.SectionName}:{route.Id}";
            if (!route.TryGetListenEndPoint(out var listen))
            {
                failures++;
                yield return DoctorCheck.Fail("config", $"{key}:Listen is '{route.Listen}', which is not an IP endpoint.", $"Set {key}:Listen to ADDRESS:PORT, *:PORT or localhost:PORT, e.g. 0.0.0.0:6380.");
            }
            else if (PortInUse(listen) is { } error)
            {
                yield return DoctorCheck.Warn("config", $"{key}:Listen {listen} cannot be bound now: {error}.", "Stop what holds the port (ss -ltnp), or pick another port; ignore if this ProxyHost is already running.");
            }

            if (route.ClusterId is null || !clusters.TryGetValue(route.ClusterId, out var cluster))
            {
                failures++;
                yield return DoctorCheck.Fail("config", $"{key}:ClusterId is '{route.ClusterId}', which is not a cluster in ReverseProxy:Clusters.",
                    $"Add the cluster '{route.ClusterId}' with tcp:// destinations, or fix the route '{route.Id}'.");
            }
            else
            {
                foreach (var destination in cluster.GetSection("Destinations").GetChildren())
                {
                    var address = destination["Address"];
                    if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme != "tcp" || uri.Port < 0 || (uri.Port == 0 && !isDemo))
                    {
                        failures++;
                        yield return DoctorCheck.Fail("config", $"ReverseProxy:Clusters:{cluster.Key}:Destinations:{destination.Key}:Address is '{address}'; the TCP route '{route.Id}' needs tcp://HOST:PORT.",
                            $"Set it to e.g. tcp://10.0.0.5:5432.");
                    }
                }
            }

            if (route.Mode is not null && !s_modes.Contains(route.Mode, StringComparer.OrdinalIgnoreCase))
            {
                failures++;
                yield return DoctorCheck.Fail("config", $"{key}:Mode is '{route.Mode}'.", $"Set {key}:Mode to one of {string.Join(", ", s_modes)}.");
            }

            if (route.Cpu is not null && (route.CpuOrNull is not { } cpu || !cpus.Contains(cpu)))
            {
                failures++;
                yield return DoctorCheck.Fail("config", $"{key}:Cpu is '{route.Cpu}', not a CPU this process may run on ({string.Join(",", cpus)}).",
                    $"Set {key}:Cpu to one of {string.Join(", ", cpus)}, or remove it for no affinity.");
            }
        }

        // Kestrel ignores Urls as soon as code defines an endpoint: the admin listener always is one, and so is every TCP route.
        if (!string.IsNullOrEmpty(configuration["Urls"]))
        {
            failures++;
            yield return DoctorCheck.Fail("config", $"Urls is '{configuration["Urls"]}', which Kestrel ignores once code defines endpoints (the admin listener and every TCP route are), so no HTTP endpoint would listen there.",
                "Move it to Kestrel:Endpoints, e.g. \"Kestrel\": { \"Endpoints\": { \"Http\": { \"Url\": \"http://0.0.0.0:8080\" } } } (or --Kestrel:Endpoints:Http:Url=...).");
        }

        if (failures == 0)
        {
            yield return DoctorCheck.Ok("config", $"{httpRoutes.Count} HTTP route(s), {tcpRoutes.Count} TCP route(s), {clusters.Count} cluster(s): no problem found.");
        }
    }

    /// <summary>Ports of every HTTP URL (Urls, Kestrel:Endpoints), TCP route listen endpoint and the admin listener, for the low-port check.</summary>
    public static IReadOnlyList<int> ListenPorts(IConfiguration configuration, IReadOnlyList<TcpRouteSettings> tcpRoutes)
    {
        var urls = (configuration["Urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Concat(configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"]).OfType<string>())
            .Append(configuration[AdminOptions.UrlKey] ?? AdminOptions.DefaultUrl);
        var ports = new List<int>();
        foreach (var url in urls)
        {
            // Kestrel accepts http://*:80 and http://+:80, which Uri does not parse.
            var normal = url.Replace("://*", "://0.0.0.0").Replace("://+", "://0.0.0.0");
            if (Uri.TryCreate(normal, UriKind.Absolute, out var u))
            {
                ports.Add(u.Port);
            }
        }
        foreach (var route in tcpRoutes)
        {
            if (route.TryGetListenEndPoint(out var e))
            {
                ports.Add(e.Port);
            }
        }
        return ports;
    }

    public static string? PortInUse(IPEndPoint endPoint)
    {
        if (endPoint.Port == 0)
        {
            return null;
        }
        try
        {
            using var probe = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(endPoint);
            return null;
        }
        catch (SocketException ex)
        {
            return ex.SocketErrorCode.ToString();
        }
    }
}
