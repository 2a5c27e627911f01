using System.Net.Sockets;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL cluster for the test run: initdb into a temp directory as the postgres user (trust auth, no fsync),
/// pg_ctl start on a free loopback port, stopped and deleted in Dispose. Used as an xunit class fixture.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "sockmap-pg-" + Guid.NewGuid().ToString("N"));
    private string _bin = "";

    public int Port { get; } = Net.FreePort();

    public async Task InitializeAsync()
    {
        _bin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb")))
            .OrderByDescending(d => d).FirstOrDefault() ?? throw new InvalidOperationException("PostgreSQL is not installed: run eng/install-prereqs.sh");
        Directory.CreateDirectory(_directory);
        await ExternalProcess.RunCheckedAsync("chown", TimeSpan.FromSeconds(10), "postgres:postgres", _directory);
        await AsPostgres(TimeSpan.FromSeconds(120), Path.Combine(_bin, "initdb"), "-D", Data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8");
        await AsPostgres(TimeSpan.FromSeconds(60), Path.Combine(_bin, "pg_ctl"), "-D", Data, "-l", Path.Combine(_directory, "log"), "-w", "-t", "50",
            "-o", $"-p {Port} -c listen_addresses=127.0.0.1 -k {_directory} -c fsync=off -c max_connections=50", "start");
    }

    private string Data => Path.Combine(_directory, "data");

    private static Task<string> AsPostgres(TimeSpan timeout, string file, params string[] args) =>
        ExternalProcess.RunCheckedAsync("runuser", timeout, ["-u", "postgres", "--", file, .. args]);

    public async Task DisposeAsync()
    {
        try
        {
            if (_bin.Length > 0 && Directory.Exists(Data))
            {
                await ExternalProcess.RunAsync("runuser", TimeSpan.FromSeconds(60), "-u", "postgres", "--", Path.Combine(_bin, "pg_ctl"), "-D", Data, "-m", "immediate", "-w", "stop");
            }
        }
        finally
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
