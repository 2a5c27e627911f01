namespace ProxyHost.Hosting;

/// <summary>
/// Log levels used unless configuration says otherwise: the host's own start-up summary is the story at start, so
/// framework chatter (data-protection keys, per-request lines) stays below Warning; every source can override it.
/// The TCP routes' access log (one line per connection) is off, as per-connection logs are in HAProxy, nginx
/// <c>stream</c> and Envoy until configured: at 16 concurrent short connections the console's formatting and writing of
/// those lines cost 6–13% of the connection rate (two runs; ProxyHost README, "Logs").
/// <c>Logging:LogLevel:Yarp.SockmapForwarder.AccessLog</c> = <c>Information</c> turns it on.
/// </summary>
internal static class LoggingDefaults
{
    public static readonly IEnumerable<KeyValuePair<string, string?>> Values =
    [
        new("Logging:LogLevel:Default", "Information"),
        new("Logging:LogLevel:Microsoft.AspNetCore", "Warning"),
        new("Logging:LogLevel:Microsoft.Hosting.Lifetime", "Warning"),
        new("Logging:LogLevel:Yarp.ReverseProxy", "Warning"),
        new("Logging:LogLevel:Yarp.SockmapForwarder.AccessLog", "Warning"),
    ];
}
