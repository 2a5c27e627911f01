namespace ProxyHost.Demo;

/// <summary>
/// The three in-process backends behind the embedded default configuration, and the configuration values that point
/// the demo clusters at them. Started before the proxy is built because YARP reads the destinations at start.
/// </summary>
internal sealed class DemoBackends : IAsyncDisposable
{
    // Cluster ids used by DefaultConfig/demo.json; the destination of each is filled in with the real port.
    public const string HttpClusterId = "demo-http";
    public const string EchoClusterId = "demo-echo";
    public const string GreeterClusterId = "demo-greeter";

    private DemoBackends(DemoHttpBackend http, TcpDemoBackend echo, TcpDemoBackend greeter)
    {
        Http = http;
        Echo = echo;
        Greeter = greeter;
    }

    public DemoHttpBackend Http { get; }

    public TcpDemoBackend Echo { get; }

    public TcpDemoBackend Greeter { get; }

    public static async Task<DemoBackends> StartAsync(CancellationToken cancellationToken)
    {
        var echo = TcpDemoBackend.StartEcho();
        var greeter = TcpDemoBackend.StartGreeter();
        var http = await DemoHttpBackend.StartAsync(cancellationToken);
        return new DemoBackends(http, echo, greeter);
    }

    /// <summary>Configuration keys that replace the demo placeholders with the backends' real addresses.</summary>
    public IEnumerable<KeyValuePair<string, string?>> ConfigurationOverrides() =>
    [
        new($"ReverseProxy:Clusters:{HttpClusterId}:Destinations:backend:Address", Http.Address.ToString()),
        new($"ReverseProxy:Clusters:{EchoClusterId}:Destinations:backend:Address", $"tcp://{Echo.EndPoint}"),
        new($"ReverseProxy:Clusters:{GreeterClusterId}:Destinations:backend:Address", $"tcp://{Greeter.EndPoint}"),
    ];

    public async ValueTask DisposeAsync()
    {
        await Http.DisposeAsync();
        await Echo.DisposeAsync();
        await Greeter.DisposeAsync();
    }
}
