namespace Yarp.SockmapForwarder.Internal;

/// <summary>Matches a ClientHello's server_name against a route's <see cref="TcpRouteConfig.Sni"/> list.</summary>
internal static class SniMatcher
{
    public static bool IsValidPattern(string pattern)
    {
        var host = pattern.StartsWith("*.", StringComparison.Ordinal) ? pattern[2..] : pattern;
        return host.Length is > 0 and <= 253 && Uri.CheckHostName(host) == UriHostNameType.Dns;
    }

    /// <summary>Exact names match case-insensitively; <c>*.example.com</c> matches exactly one extra label (<c>a.example.com</c>, not <c>a.b.example.com</c>).</summary>
    public static bool Matches(IReadOnlyList<string> patterns, string serverName)
    {
        foreach (var pattern in patterns)
        {
            if (pattern.StartsWith("*.", StringComparison.Ordinal))
            {
                var suffix = pattern.AsSpan(1); // ".example.com"
                if (serverName.Length > suffix.Length
                    && serverName.AsSpan().EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                    && !serverName.AsSpan(0, serverName.Length - suffix.Length).Contains('.'))
                {
                    return true;
                }
            }
            else if (string.Equals(pattern, serverName, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }
}
