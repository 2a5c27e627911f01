using System.Globalization;
using System.Net;

namespace ProxyHost.Admin;

/// <summary>
/// A parsed Kestrel endpoint URL (<c>http://127.0.0.1:9901</c>, <c>http://[::1]:9901</c>, <c>http://*:9901</c>,
/// <c>http://localhost:9901</c>), for binding the admin listener and comparing it with the proxy's endpoints.
/// </summary>
internal sealed record AdminUrl(string Scheme, BindKind Kind, IPAddress? Address, int Port)
{
    /// <summary>True when only this machine can connect: a loopback address or <c>localhost</c>.</summary>
    public bool IsLoopback => Kind == BindKind.Localhost || (Kind == BindKind.Ip && IPAddress.IsLoopback(Address!));

    /// <summary>The address to probe and compare: every address as 0.0.0.0, <c>localhost</c> as 127.0.0.1.</summary>
    public IPEndPoint EndPoint => new(Kind switch { BindKind.Any => IPAddress.Any, BindKind.Localhost => IPAddress.Loopback, _ => Address! }, Port);

    /// <summary>Parses <paramref name="value"/>; on failure <paramref name="problem"/> says what is wrong.</summary>
    public static bool TryParse(string? value, out AdminUrl url, out string problem)
    {
        url = null!;
        problem = "";
        var text = value?.Trim() ?? "";
        var schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0)
        {
            problem = "it is not a URL such as 'http://127.0.0.1:9901'";
            return false;
        }
        var scheme = text[..schemeEnd].ToLowerInvariant();
        var rest = text[(schemeEnd + 3)..].TrimEnd('/');
        if (scheme is not ("http" or "https"))
        {
            problem = $"the scheme '{scheme}' is not http";
            return false;
        }
        if (rest.Contains('/'))
        {
            problem = "Kestrel endpoints take no path";
            return false;
        }
        var colon = rest.LastIndexOf(':');
        if (colon <= 0 || rest.EndsWith(']') || !int.TryParse(rest.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            problem = "it names no port (write e.g. 'http://127.0.0.1:9901', or port 0 for a free one)";
            return false;
        }
        if (port > IPEndPoint.MaxPort)
        {
            problem = $"the port {port} is not between 0 and {IPEndPoint.MaxPort}";
            return false;
        }
        var host = rest[..colon];
        if (host is "*" or "+")
        {
            url = new AdminUrl(scheme, BindKind.Any, null, port);
            return true;
        }
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            url = new AdminUrl(scheme, BindKind.Localhost, null, port);
            return true;
        }
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':'))
        {
            problem = "an IPv6 address needs brackets, e.g. 'http://[::1]:9901'";
            return false;
        }
        if (!IPAddress.TryParse(host, out var address))
        {
            problem = $"'{host}' is not an IP address, '*' or 'localhost' (Kestrel binds addresses, not host names)";
            return false;
        }
        var any = address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
        url = new AdminUrl(scheme, any ? BindKind.Any : BindKind.Ip, any ? null : address, port);
        return true;
    }

    /// <summary>True when both bind the same fixed port on a common address (port 0 never collides: it picks a free one).</summary>
    public static bool Overlaps(IPEndPoint a, IPEndPoint b) =>
        a.Port != 0 && a.Port == b.Port
        && (IsAny(a.Address) || IsAny(b.Address) || a.Address.Equals(b.Address));

    private static bool IsAny(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
}
