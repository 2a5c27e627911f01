using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Transport.BpfSteer.Tests;

/// <summary>Runs one scenario against the same app on Kestrel's Sockets transport and on BpfSteer.</summary>
public static class Parity
{
    /// <summary>Returns (sockets, bpfsteer) results; asserts the BpfSteer app logged no errors.</summary>
    public static async Task<(T Sockets, T BpfSteer)> RunAsync<T>(global::BpfSteer.Transport.ApplicationScheduling scheduling,
        Func<TestApp, Task<T>> scenario, Action<KestrelServerOptions>? kestrel = null)
    {
        T sockets;
        await using (var app = await TestApp.StartAsync(TransportKind.Sockets, kestrel: kestrel))
        {
            sockets = await scenario(app).DefaultTimeout();
        }
        await using (var app = await TestApp.StartAsync(TransportKind.BpfSteer, o => o.ApplicationScheduling = scheduling, kestrel))
        {
            var bpf = await scenario(app).DefaultTimeout();
            app.Errors.AssertNoErrors();
            return (sockets, bpf);
        }
    }

    /// <summary>Drops headers that differ between any two runs (Date).</summary>
    public static string StableHeaders(string headers)
        => string.Join("\n", headers.Replace("\r", "").Split('\n').Where(l => !l.StartsWith("Date:", StringComparison.OrdinalIgnoreCase)));
}
