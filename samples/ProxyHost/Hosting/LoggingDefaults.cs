namespace ProxyHost.Hosting;

/// <summary>
/// Log levels used unless configuration says otherwise: the host's own start-up summary is the story at start, so
/// framework chatter (data-protection keys, per-request lines) stays below Warning; every source can override it.
/// </summary>
internal static class LoggingDefaults
{
    public static readonly IEnumerable<KeyValuePair<string, string?>> Values =
    [
        new("Logging:LogLevel:Default", "Information"),
        new("Logging:LogLevel:Microsoft.AspNetCore", "Warning"),
        new("Logging:LogLevel:Microsoft.Hosting.Lifetime", "Warning"),
        new("Logging:LogLevel:Yarp.ReverseProxy", "Warning"),
    ];
}
