using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Transport.BpfSteer.Tests;

/// <summary>Short wrk and h2load runs against BpfSteer finish with zero errors.</summary>
[Collection(nameof(CpuBoundCollection))]
public partial class LoadClientTests
{
    [Theory]
    [InlineData(global::BpfSteer.Transport.ApplicationScheduling.ThreadPool)]
    [InlineData(global::BpfSteer.Transport.ApplicationScheduling.Inline)]
    public async Task Wrk_ShortRun_ZeroErrors(global::BpfSteer.Transport.ApplicationScheduling scheduling)
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.ApplicationScheduling = scheduling);
        var r = await ClientProcess.RunAsync("wrk", ["-t2", "-c32", "-d2s", new Uri(app.Address, "/plaintext").ToString()]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.DoesNotContain("Socket errors", r.Stdout);
        Assert.DoesNotContain("Non-2xx", r.Stdout);
        var requests = long.Parse(RequestsDone().Match(r.Stdout).Groups[1].Value);
        Assert.True(requests > 100, r.Stdout);
        app.Errors.AssertNoErrors();
    }

    [Fact]
    public async Task H2load_ShortRun_ZeroErrors()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer,
            kestrel: k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        var r = await ClientProcess.RunAsync("h2load", ["-n", "5000", "-c", "10", "-m", "10", new Uri(app.Address, "/plaintext").ToString()]);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        Assert.Contains("requests: 5000 total, 5000 started, 5000 done, 5000 succeeded, 0 failed, 0 errored", r.Stdout);
        app.Errors.AssertNoErrors();
    }

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestsDone();
}
