using Microsoft.Extensions.Options;
using ProxyHost.Hosting;

namespace ProxyHost.Admin;

/// <summary>
/// Checks <see cref="AdminOptions"/> against itself and the proxy's endpoints, every problem at once, each naming its
/// key. The host runs it when Kestrel reads its endpoints (a failure stops the start); doctor runs the same checks.
/// </summary>
internal sealed class AdminOptionsValidator(IConfiguration configuration) : IValidateOptions<AdminOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminOptions options)
    {
        var problems = Problems(options, configuration);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    public static List<string> Problems(AdminOptions options, IConfiguration configuration)
    {
        var problems = new List<string>();
        if (!AdminUrl.TryParse(options.Url, out var url, out var problem))
        {
            problems.Add($"{AdminOptions.UrlKey} is '{options.Url}': {problem}.");
        }
        else if (url.Scheme != "http")
        {
            problems.Add($"{AdminOptions.UrlKey} is '{options.Url}': the admin listener serves plain http (no certificate); keep it on loopback or put it behind a TLS-terminating proxy.");
        }
        else
        {
            foreach (var (key, endPoint) in ProxyEndPoints(configuration))
            {
                if (AdminUrl.Overlaps(url.EndPoint, endPoint))
                {
                    problems.Add($"{AdminOptions.UrlKey} is '{options.Url}', the same endpoint as {key}: the admin listener needs a port of its own.");
                }
            }
        }

        if (options.ProxyHealthPath is { } path && (path.Length < 2 || path[0] != '/' || path.Contains('{') || path.Contains('?')))
        {
            problems.Add($"{AdminOptions.ProxyHealthPathKey} is '{path}': it must be a literal path such as '/healthz' (or unset, for no health path on the proxy's endpoints).");
        }
        return problems;
    }

    /// <summary>The proxy's endpoints with the key that sets each: HTTP endpoints and TCP route listeners.</summary>
    public static IEnumerable<(string Key, System.Net.IPEndPoint EndPoint)> ProxyEndPoints(IConfiguration configuration)
    {
        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
        {
            if (AdminUrl.TryParse(endpoint["Url"], out var url, out _))
            {
                yield return ($"Kestrel:Endpoints:{endpoint.Key}:Url '{endpoint["Url"]}'", url.EndPoint);
            }
        }
        foreach (var route in TcpRouteSettings.Read(configuration))
        {
            if (route.TryGetListenEndPoint(out var listen))
            {
                yield return ($"{TcpRouteSettings.SectionName}:{route.Id}:Listen '{route.Listen}'", listen);
            }
        }
    }
}
