using System.Diagnostics;

namespace Transport.BpfSteer.Tests;

/// <summary>Runs the real curl (and other client binaries) and returns their output.</summary>
public static class ClientProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(string file, IEnumerable<string> args, byte[]? stdin = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await p.StandardInput.BaseStream.WriteAsync(stdin);
            p.StandardInput.Close();
        }
        try
        {
            await p.WaitForExitAsync().WithTimeout(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
        return new Result(p.ExitCode, await stdout.DefaultTimeout(), await stderr.DefaultTimeout());
    }

    public static async Task<string> CurlAsync(params string[] args)
    {
        var r = await RunAsync("curl", ["-sS", "--max-time", "30", .. args]);
        Assert.True(r.ExitCode == 0, $"curl {string.Join(' ', args)} exited {r.ExitCode}: {r.Stderr}");
        return r.Stdout;
    }
}
