using Microsoft.Extensions.Configuration;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>In-memory configuration whose whole content a test replaces, firing the reload token like a changed file would.</summary>
public sealed class ReloadableConfigurationSource(IDictionary<string, string?> initial) : IConfigurationSource
{
    public ReloadableConfigurationProvider Provider { get; } = new(initial);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => Provider;
}

public sealed class ReloadableConfigurationProvider(IDictionary<string, string?> initial) : ConfigurationProvider
{
    public override void Load() => Data = new Dictionary<string, string?>(initial, StringComparer.OrdinalIgnoreCase);

    public void Replace(IDictionary<string, string?> data)
    {
        Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
        OnReload();
    }
}
