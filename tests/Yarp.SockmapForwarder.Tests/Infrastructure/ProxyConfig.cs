namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>Builds the flat key/value form of a YARP configuration with TCP routes (what appsettings.json becomes).</summary>
public sealed class ProxyConfig
{
    public Dictionary<string, string?> Values { get; } = new(StringComparer.OrdinalIgnoreCase);

    public ProxyConfig Route(string id, string clusterId, string listen = "127.0.0.1:0", params (string Key, string Value)[] settings)
    {
        Values[$"ReverseProxy:TcpRoutes:{id}:Listen"] = listen;
        Values[$"ReverseProxy:TcpRoutes:{id}:ClusterId"] = clusterId;
        foreach (var (key, value) in settings)
        {
            Values[$"ReverseProxy:TcpRoutes:{id}:{key}"] = value;
        }
        return this;
    }

    public ProxyConfig Cluster(string id, string? policy, params (string Id, string Address)[] destinations)
    {
        if (policy is not null)
        {
            Values[$"ReverseProxy:Clusters:{id}:LoadBalancingPolicy"] = policy;
        }
        foreach (var (destId, address) in destinations)
        {
            Values[$"ReverseProxy:Clusters:{id}:Destinations:{destId}:Address"] = address;
        }
        return this;
    }

    public ProxyConfig Set(string key, string? value)
    {
        Values[key] = value;
        return this;
    }

    public ProxyConfig Clone()
    {
        var copy = new ProxyConfig();
        foreach (var (k, v) in Values)
        {
            copy.Values[k] = v;
        }
        return copy;
    }

    public static string Tcp(int port) => $"tcp://127.0.0.1:{port}";
}
