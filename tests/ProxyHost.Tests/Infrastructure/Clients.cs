using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using BpfSteer.Testing;

namespace ProxyHost.Tests.Infrastructure;

/// <summary>The real clients the tests drive ProxyHost with: curl, raw TCP sockets, and the status JSON.</summary>
public static class Clients
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().DefaultTimeout();
        return (process.ExitCode, await stdout.DefaultTimeout(), await stderr.DefaultTimeout());
    }

    /// <summary>
    /// Runs <paramref name="command"/> with bash as a person would type it. With <paramref name="typed"/>, waits until
    /// stdout shows <paramref name="waitFor"/>, writes the text to stdin and closes it (Ctrl-D). Returns the exit code
    /// and stdout followed by stderr.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunShellAsync(string command, string? typed = null, string? waitFor = null)
    {
        var info = new ProcessStartInfo("bash", ["-o", "pipefail", "-c", command])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var stdout = new System.Text.StringBuilder();
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            lock (stdout)
            {
                stdout.AppendLine(e.Data);
                if (waitFor is not null && stdout.ToString().Contains(waitFor, StringComparison.Ordinal))
                {
                    seen.TrySetResult();
                }
            }
        };
        process.BeginOutputReadLine();
        var stderr = process.StandardError.ReadToEndAsync();
        if (typed is not null)
        {
            await seen.Task.DefaultTimeout();
            await process.StandardInput.WriteAsync(typed).DefaultTimeout();
        }
        process.StandardInput.Close();
        await process.WaitForExitAsync().DefaultTimeout();
        var errors = await stderr.DefaultTimeout();
        lock (stdout)
        {
            return (process.ExitCode, stdout + errors);
        }
    }

    /// <summary>curl with a hard time limit; fails the test on a non-zero exit.</summary>
    public static async Task<string> CurlAsync(string url)
    {
        var (code, stdout, stderr) = await RunAsync("curl", "-sS", "--fail", "--max-time", "20", url);
        Assert.True(code == 0, $"curl {url} exited {code}: {stderr}");
        return stdout;
    }

    /// <summary>curl with a hard time limit, any HTTP status: returns the status code and the body.</summary>
    public static async Task<(int Status, string Body)> CurlStatusAsync(string url, params string[] extraArgs)
    {
        var (code, stdout, stderr) = await RunAsync("curl", ["-sS", "--max-time", "20", "-w", "\n%{http_code}", .. extraArgs, url]);
        Assert.True(code == 0, $"curl {url} exited {code}: {stderr}");
        var split = stdout.LastIndexOf('\n');
        return (int.Parse(stdout[(split + 1)..]), stdout[..split]);
    }

    public static async Task<JsonElement> StatusAsync(string httpUrl)
    {
        using var doc = JsonDocument.Parse(await CurlAsync(httpUrl + "/bpfsteer/status"));
        return doc.RootElement.Clone();
    }

    public static JsonElement Route(JsonElement status, string id) =>
        status.GetProperty("routes").EnumerateArray().Single(r => r.GetProperty("id").GetString() == id);

    /// <summary>
    /// Connects to a TCP route, reads <paramref name="expectedGreeting"/> bytes first (server-first protocols), sends
    /// <paramref name="size"/> random bytes while reading the echo, half-closes, and checks the echo is byte-exact.
    /// </summary>
    public static async Task EchoThroughAsync(IPEndPoint route, int size, int expectedGreeting = 0, byte[]? greeting = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(route).DefaultTimeout();
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        if (expectedGreeting > 0)
        {
            var got = new byte[expectedGreeting];
            await stream.ReadExactlyAsync(got).DefaultTimeout();
            Assert.Equal(greeting, got);
        }

        var payload = RandomNumberGenerator.GetBytes(size);
        var echo = new byte[size];
        var reading = stream.ReadExactlyAsync(echo).AsTask();
        await stream.WriteAsync(payload).DefaultTimeout();
        socket.Shutdown(SocketShutdown.Send);
        await reading.DefaultTimeout();
        Assert.True(SHA256.HashData(payload).AsSpan().SequenceEqual(SHA256.HashData(echo)), $"echo through {route} differs from what was sent");

        // The backend closes after our FIN: the route must propagate it (read returns 0), not hang or reset.
        Assert.Equal(0, await stream.ReadAsync(new byte[1]).AsTask().DefaultTimeout());
    }

    /// <summary>
    /// Interactive use (a shell, Redis, a database driver): <paramref name="rounds"/> small request/response exchanges on
    /// one connection. Returns the slowest round trip; fails if the connection closes or resets.
    /// </summary>
    public static async Task<TimeSpan> PingPongAsync(IPEndPoint route, int rounds, int size = 100)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(route).DefaultTimeout();
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var request = RandomNumberGenerator.GetBytes(size);
        var reply = new byte[size];
        var slowest = TimeSpan.Zero;
        for (var i = 0; i < rounds; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await stream.WriteAsync(request).DefaultTimeout();
            await stream.ReadExactlyAsync(reply).DefaultTimeout();
            Assert.Equal(request, reply);
            var took = Stopwatch.GetElapsedTime(started);
            slowest = took > slowest ? took : slowest;
        }
        return slowest;
    }

    /// <summary>Polls the status JSON until <paramref name="condition"/> holds (bounded: 40 polls, 250 ms apart).</summary>
    public static async Task<JsonElement> WaitForStatusAsync(string httpUrl, Func<JsonElement, bool> condition, string what)
    {
        JsonElement status = default;
        for (var i = 0; i < 40; i++)
        {
            status = await StatusAsync(httpUrl);
            if (condition(status))
            {
                return status;
            }
            await Task.Delay(250);
        }
        Assert.Fail($"/bpfsteer/status never showed {what}; last:\n{status}");
        return status;
    }
}
