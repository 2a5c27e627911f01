namespace ProxyHost.Tests.Infrastructure;

/// <summary>A configuration file written for one test and deleted afterwards.</summary>
public sealed class TempConfig : IDisposable
{
    public TempConfig(string json)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"proxyhost-test-{Guid.NewGuid():N}.json");
        File.WriteAllText(Path, json);
    }

    public string Path { get; }

    public void Dispose() => File.Delete(Path);
}
