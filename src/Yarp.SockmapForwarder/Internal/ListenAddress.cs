using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>A parsed <see cref="TcpRouteConfig.Listen"/> value: an IP endpoint, every address (<c>*</c>), or <c>localhost</c>.</summary>
internal sealed record ListenAddress(ListenAddressKind Kind, IPAddress? Address, int Port)
{
    public static bool TryParse(string value, [NotNullWhen(true)] out ListenAddress? address)
    {
        address = null;
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort)
        {
            return false;
        }
        var host = value[..colon];
        if (host is "*" or "+")
        {
            address = new ListenAddress(ListenAddressKind.Any, null, port);
            return true;
        }
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = new ListenAddress(ListenAddressKind.Localhost, null, port);
            return true;
        }
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':'))
        {
            return false; // an IPv6 address needs brackets, or its last group reads as the port
        }
        if (!IPAddress.TryParse(host, out var ip))
        {
            return false;
        }
        address = new ListenAddress(ListenAddressKind.Ip, ip, port);
        return true;
    }

    public bool Overlaps(ListenAddress other) =>
        Port != 0 && Port == other.Port
        && (Kind != ListenAddressKind.Ip || other.Kind != ListenAddressKind.Ip || Address!.Equals(other.Address));

    public override string ToString() => Kind switch
    {
        ListenAddressKind.Any => $"*:{Port}",
        ListenAddressKind.Localhost => $"localhost:{Port}",
        _ => new IPEndPoint(Address!, Port).ToString(),
    };
}
