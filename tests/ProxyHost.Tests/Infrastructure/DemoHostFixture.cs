namespace ProxyHost.Tests.Infrastructure;

/// <summary>One ProxyHost on its embedded default (no arguments), shared by the tests of a class.</summary>
public sealed class DemoHostFixture : IAsyncLifetime
{
    public ProxyHostProcess Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ProxyHostProcess.StartAsync([]);

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
