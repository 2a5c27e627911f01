using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Reads <c>TcpRoutes:{id}:*</c> into <see cref="TcpRouteConfig"/> records. Syntax problems (a value that does not parse,
/// a missing required key, an unknown key) are appended to the error list; reading never stops at the first one.
/// </summary>
/// <remarks>
/// Every route is returned, even one with syntax problems: its unreadable values are left at their defaults and a missing
/// <c>Listen</c> or <c>ClusterId</c> is empty, so <see cref="TcpRouteValidator"/> still reports the route's other problems
/// (an unknown cluster beside a misspelt mode). Callers use the routes only when the error list stayed empty.
/// </remarks>
internal static class TcpRouteConfigReader
{
    public static List<TcpRouteConfig> Read(IConfiguration tcpRoutesSection, List<string> errors)
    {
        var routes = new List<TcpRouteConfig>();
        foreach (var section in tcpRoutesSection.GetChildren())
        {
            routes.Add(ReadRoute(section, errors));
        }
        return routes;
    }

    private static TcpRouteConfig ReadRoute(IConfigurationSection section, List<string> errors)
    {
        var id = section.Key;
        foreach (var child in section.GetChildren())
        {
            if (!TcpRouteConfigKeys.All.Contains(child.Key))
            {
                errors.Add($"The key '{child.Key}' set on the TCP route '{id}' is not a TCP route setting; expected one of {string.Join(", ", TcpRouteConfigKeys.All)}.");
            }
        }

        var listen = Required(section, TcpRouteConfigKeys.Listen, id, errors);
        var clusterId = Required(section, TcpRouteConfigKeys.ClusterId, id, errors);
        var cpu = ParseOptional<int>(section, TcpRouteConfigKeys.Cpu, id, errors, "a CPU number", s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : (int?)null);
        var mode = ParseEnum<TcpForwarderMode>(section, TcpRouteConfigKeys.Mode, id, errors);
        var connectTimeout = ParseOptional<TimeSpan>(section, TcpRouteConfigKeys.ConnectTimeout, id, errors, "a time span such as '00:00:05'", ParseTimeSpan);
        var idleTimeout = ParseOptional<TimeSpan>(section, TcpRouteConfigKeys.IdleTimeout, id, errors, "a time span such as '00:10:00'", ParseTimeSpan);
        var maxConnections = ParseOptional<int>(section, TcpRouteConfigKeys.MaxConnections, id, errors, "a whole number", s => int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : (int?)null);
        var proxyProtocol = ParseEnum<ProxyProtocolVersion>(section, TcpRouteConfigKeys.ProxyProtocol, id, errors);
        var maxQueued = ParseOptional<long>(section, TcpRouteConfigKeys.MaxQueuedBytes, id, errors, "a whole number of bytes", s => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : (long?)null);
        var sni = ReadSni(section.GetSection(TcpRouteConfigKeys.Sni));

        return new TcpRouteConfig
        {
            RouteId = id,
            Listen = listen ?? "",
            ClusterId = clusterId ?? "",
            Cpu = cpu,
            Mode = mode ?? TcpForwarderMode.Auto,
            ConnectTimeout = connectTimeout ?? TcpRouteConfig.DefaultConnectTimeout,
            IdleTimeout = idleTimeout ?? TimeSpan.Zero,
            MaxConnections = maxConnections,
            ProxyProtocol = proxyProtocol ?? ProxyProtocolVersion.None,
            Sni = sni,
            MaxQueuedBytes = maxQueued ?? TcpRouteConfig.DefaultMaxQueuedBytes,
        };
    }

    private static string? Required(IConfigurationSection section, string key, string id, List<string> errors)
    {
        var value = section[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add($"The required key '{key}' is missing on the TCP route '{id}'.");
            return null;
        }
        return value.Trim();
    }

    private static T? ParseOptional<T>(IConfigurationSection section, string key, string id, List<string> errors, string expected, Func<string, T?> parse)
        where T : struct
    {
        var value = section[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        var parsed = parse(value.Trim());
        if (parsed is null)
        {
            errors.Add($"The {key} '{value}' set on the TCP route '{id}' is not {expected}.");
        }
        return parsed;
    }

    private static T? ParseEnum<T>(IConfigurationSection section, string key, string id, List<string> errors)
        where T : struct, Enum
    {
        return ParseOptional<T>(section, key, id, errors, "one of " + string.Join(", ", Enum.GetNames<T>()),
            s => !char.IsAsciiDigit(s[0]) && Enum.TryParse<T>(s, ignoreCase: true, out var v) ? v : (T?)null);
    }

    private static TimeSpan? ParseTimeSpan(string s) =>
        TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static string[] ReadSni(IConfigurationSection sni)
    {
        // Accept a JSON array (Sni:0, Sni:1, ...) or one comma-separated string.
        var values = sni.Value is { } single
            ? single.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : sni.GetChildren().Select(c => c.Value?.Trim() ?? "").ToArray();
        return values;
    }
}
