namespace ProxyHost;

/// <summary>
/// ProxyHost's log events (stable ids). The console summary is for the person who started the process; these are for
/// log pipelines (journald, collectors): every fallback is a Warning with its reason.
/// </summary>
internal static partial class ProxyHostLog
{
    [LoggerMessage(1, LogLevel.Information, "Routes from {Source}.")]
    public static partial void RouteSource(ILogger logger, string source);

    [LoggerMessage(2, LogLevel.Information, "Demo backends started: HTTP {Http}, TCP echo {Echo}, TCP greeter {Greeter}.")]
    public static partial void DemoBackendsStarted(ILogger logger, string http, string echo, string greeter);

    [LoggerMessage(3, LogLevel.Warning, "Kestrel is not on the BpfSteer transport: no per-CPU workers or locality counters.")]
    public static partial void NotOnBpfSteer(ILogger logger);

    [LoggerMessage(4, LogLevel.Warning, "No CPU selector is attached to the reuseport groups: {Detail}")]
    public static partial void SelectorNotAttached(ILogger logger, string detail);

    [LoggerMessage(5, LogLevel.Warning, "Sockmap is not usable; TCP routes use the user-space path: {Detail}")]
    public static partial void SockmapNotUsable(ILogger logger, string detail);

    [LoggerMessage(6, LogLevel.Warning, "{Detail}")]
    public static partial void CapabilityMissing(ILogger logger, string detail);

    [LoggerMessage(7, LogLevel.Warning, "The admin listener {Url} is reachable beyond loopback: anyone who can connect reads routes, backend health and kernel details ({Key}).")]
    public static partial void AdminListenerNotLoopback(ILogger logger, string url, string key);
}
