using System.Diagnostics;
using System.Text;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>Real programs (redis-server, iperf3, curl, psql, ...) started by a test; a long-running one is killed on Dispose.</summary>
public sealed class ExternalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ExternalProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public static ExternalProcess Start(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        return new ExternalProcess(Process.Start(info) ?? throw new InvalidOperationException("could not start " + file));
    }

    /// <summary>Runs a program to completion (bounded) and returns its exit code and combined output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, TimeSpan timeout, params string[] args)
    {
        await using var process = Start(file, args);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process._process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}. Output:\n{process.Output}");
        }
        process._process.WaitForExit(); // flushes the redirected output
        return (process._process.ExitCode, process.Output);
    }

    /// <summary>Runs a program that must succeed; returns its output.</summary>
    public static async Task<string> RunCheckedAsync(string file, TimeSpan timeout, params string[] args)
    {
        var (exit, output) = await RunAsync(file, timeout, args);
        Assert.True(exit == 0, $"{file} {string.Join(' ', args)} exited with {exit}:\n{output}");
        return output;
    }

    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        await Poll.UntilAsync(() => Output.Contains(text) || _process.HasExited, $"'{text}' in the output", timeout);
        Assert.False(_process.HasExited && !Output.Contains(text), "the process exited:\n" + Output);
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }
}
