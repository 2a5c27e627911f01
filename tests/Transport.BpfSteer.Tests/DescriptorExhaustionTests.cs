using BpfSteer.Interop;

namespace Transport.BpfSteer.Tests;

/// <summary>
/// Out of file descriptors (EMFILE on accept4): the worker backs off instead of spinning on its level-triggered
/// listener, the connections wait in the backlog, and all are served once descriptors are available again.
/// </summary>
[Collection(nameof(CpuBoundCollection))]
public class DescriptorExhaustionTests
{
    [Fact]
    public async Task Accept_OutOfDescriptors_BacksOffAndServesEveryQueuedClient()
    {
        await using var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.Cpus = [0, 1]);
        var url = $"http://127.0.0.1:{app.Port}/plaintext";
        // Warm-up: the runtime maps assemblies lazily (one descriptor each) on the first request.
        Assert.Equal("Hello, World!", await ClientProcess.CurlAsync(url));
        Assert.Equal("Hello, World!", await ClientProcess.CurlAsync(url));
        // The clients start now (their pipes are made before the limit drops) and connect a little later.
        var clients = Enumerable.Range(0, 16)
            .Select(_ => ClientProcess.RunAsync("sh", ["-c", $"sleep 0.3; exec curl -sS --max-time 20 {url}"]))
            .ToArray();
        var original = GetLimit();
        try
        {
            SetLimit(original with { Current = (ulong)Directory.GetFiles("/proc/self/fd").Length + 4 });
            await Task.Delay(1000);
        }
        finally
        {
            SetLimit(original);
        }
        var results = await Task.WhenAll(clients).WithTimeout(TimeSpan.FromSeconds(60));
        Assert.All(results, r => Assert.Equal("Hello, World!", r.Stdout));
        var acceptErrors = app.Errors.Entries.Count(e => e.Contains("[23]"));
        Assert.True(acceptErrors > 0, "the limit was never hit: the test did not test anything");
        // 1 s at one retry per 100 ms per worker is ~20; a spinning listener logs thousands.
        Assert.True(acceptErrors < 60, $"{acceptErrors} accept errors logged: the listener spun instead of backing off");
        Assert.All(app.Errors.Entries, e => Assert.Contains("[23]", e));
    }

    private static unsafe Libc.RLimit GetLimit()
    {
        Libc.RLimit limit;
        Assert.Equal(0, Libc.GetRLimit(Libc.RLIMIT_NOFILE, &limit));
        return limit;
    }

    private static unsafe void SetLimit(Libc.RLimit limit)
        => Assert.Equal(0, Libc.SetRLimit(Libc.RLIMIT_NOFILE, &limit));
}
