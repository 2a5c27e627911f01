using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>A YARP destination address as a TCP route reads it: <c>tcp://host:port</c>.</summary>
internal sealed record TcpDestinationAddress(string Host, int Port)
{
    public const string Scheme = "tcp";

    /// <summary>The address when <see cref="Host"/> is an IP literal (no DNS needed), else null.</summary>
    public IPAddress[]? Literal { get; } = IPAddress.TryParse(Host, out var ip) ? [ip] : null;

    public static bool TryParse(string? address, [NotNullWhen(true)] out TcpDestinationAddress? result)
    {
        result = null;
        if (address is null || !Uri.TryCreate(address, UriKind.Absolute, out var uri)
            || !string.Equals(uri.Scheme, Scheme, StringComparison.OrdinalIgnoreCase)
            || uri.IsDefaultPort || uri.Port <= 0 || string.IsNullOrEmpty(uri.Host)
            || uri.AbsolutePath is not ("" or "/") || uri.Query.Length != 0 || uri.UserInfo.Length != 0)
        {
            return false;
        }
        result = new TcpDestinationAddress(uri.DnsSafeHost, uri.Port);
        return true;
    }

    /// <summary>An <see cref="IPEndPoint"/> for an address literal (no DNS on the hot path), else a <see cref="DnsEndPoint"/>.</summary>
    public EndPoint ToEndPoint() =>
        IPAddress.TryParse(Host, out var ip) ? new IPEndPoint(ip, Port) : new DnsEndPoint(Host, Port);

    public override string ToString() => $"{Scheme}://{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port}";
}
