namespace ProxyHost.Tests.Infrastructure;

/// <summary>One ProxyHost on its embedded default (no arguments), shared by the tests of a class.</summary>
public sealed class DemoHostFixture : IAsyncLifetime
{
    public ProxyHostProcess Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ProxyHostProcess.StartAsync([]);

    public async Task DisposeAsync()
    {
        // Everything the class's tests did must have gone without an Error-level log line.
        await Host.DisposeAsync();
        Host.AssertNoErrorsLogged();
    }
}
