namespace ProxyHost.Tests.Infrastructure;

/// <summary>
/// ProxyHost with one catch-all HTTP route to a <see cref="RecordingHttpBackend"/> the test owns, and the opt-in health
/// path for load balancers on the proxy's endpoints (<see cref="ProxyHealthPath"/>).
/// </summary>
public sealed class CatchAllHostFixture : IAsyncLifetime
{
    public const string ProxyHealthPath = "/lb-health";
    private TempConfig? _config;

    public ProxyHostProcess Host { get; private set; } = null!;

    public RecordingHttpBackend Backend { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Backend = await RecordingHttpBackend.StartAsync();
        _config = new TempConfig(Backend.CatchAllConfig());
        Host = await ProxyHostProcess.StartAsync(["--config", _config.Path, $"--BpfSteer:Admin:ProxyHealthPath={ProxyHealthPath}"]);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Backend.DisposeAsync();
        _config?.Dispose();
        Host.AssertNoErrorsLogged();
    }
}
