using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using BpfSteer.Testing;
using ProxyHost.Tests.Interop;

namespace ProxyHost.Tests.Infrastructure;

/// <summary>
/// ProxyHost started as a process exactly as the README says (<c>dotnet samples/ProxyHost/bin/Release/net10.0/ProxyHost.dll</c>),
/// optionally under a wrapper such as setpriv. Waits for "ProxyHost is ready." and parses the "Listening:" block and
/// the demo's "Try" commands.
/// </summary>
public sealed partial class ProxyHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _disposed;
    private bool _inTryBlock;

    private ProxyHostProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    /// <summary>The first HTTP URL from the "Listening:" block, without a trailing slash.</summary>
    public string HttpUrl { get; private set; } = "";

    /// <summary>The admin listener's URL (status page, JSON, health, metrics) from the "Listening:" block, without a trailing slash.</summary>
    public string AdminUrl { get; private set; } = "";

    /// <summary>The shell commands of the demo's "Try" block, without their comments, in printed order.</summary>
    public List<string> TryCommands { get; } = [];

    /// <summary>TCP route id → listen endpoint, from the "Listening:" block.</summary>
    public Dictionary<string, IPEndPoint> TcpRoutes { get; } = [];

    public string Output { get { lock (_output) { return _output.ToString(); } } }

    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Release or Debug, whichever this test assembly was built as (the ProxyHost build matches it).</summary>
    public static string Configuration { get; } =
        typeof(ProxyHostProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

    public static string DllPath { get; } = Path.Combine(RepoRoot, "samples", "ProxyHost", "bin", Configuration, "net10.0", "ProxyHost.dll");

    public static async Task<ProxyHostProcess> StartAsync(IEnumerable<string> args, IReadOnlyList<string>? wrapper = null)
    {
        var host = new ProxyHostProcess(Create(args, wrapper));
        host._process.OutputDataReceived += (_, e) => host.OnLine(e.Data);
        host._process.ErrorDataReceived += (_, e) => host.OnLine(e.Data);
        host._process.Exited += (_, _) => host._exited.TrySetResult();
        host._process.Start();
        host._process.BeginOutputReadLine();
        host._process.BeginErrorReadLine();

        var first = await Task.WhenAny(host._ready.Task, host._exited.Task).WithTimeout(TimeSpan.FromSeconds(60));
        if (first != host._ready.Task)
        {
            throw new InvalidOperationException($"ProxyHost exited before it was ready (exit code {host._process.ExitCode}):\n{host.Output}");
        }
        return host;
    }

    /// <summary>Runs ProxyHost to completion (e.g. <c>doctor</c>) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(IEnumerable<string> args, IReadOnlyList<string>? wrapper = null)
    {
        using var process = Create(args, wrapper);
        process.Start();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WithTimeout(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout.DefaultTimeout() + await stderr.DefaultTimeout());
    }

    /// <summary>Fails the test when ProxyHost logged at Error or Critical level (console lines "fail:" / "crit:").</summary>
    public void AssertNoErrorsLogged()
    {
        var errors = Output.Split('\n').Where(l => l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, "ProxyHost logged errors:\n" + string.Join("\n", errors));
    }

    /// <summary>
    /// Stops the process with SIGTERM (killing it if it has not exited within the default timeout) and waits until its
    /// output has been read to the end; a second call does nothing.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                // SIGTERM: the graceful path an operator (systemd) uses; Kill only if it does not stop.
                Libc.Kill(_process.Id, Libc.SIGTERM);
                try
                {
                    await _exited.Task.DefaultTimeout();
                }
                catch (TimeoutException)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            // Returns once the redirected output has been read to its end, so Output holds every line the process wrote.
            await _process.WaitForExitAsync().DefaultTimeout();
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static Process Create(IEnumerable<string> args, IReadOnlyList<string>? wrapper)
    {
        var command = new List<string>(wrapper ?? []) { "dotnet", DllPath };
        command.AddRange(args);
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepoRoot,
        };
        foreach (var a in command.Skip(1))
        {
            info.ArgumentList.Add(a);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return new Process { StartInfo = info, EnableRaisingEvents = true };
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
        if (HttpLine().Match(line) is { Success: true } http && HttpUrl.Length == 0)
        {
            HttpUrl = http.Groups[1].Value;
        }
        else if (TcpLine().Match(line) is { Success: true } tcp)
        {
            TcpRoutes[tcp.Groups[1].Value] = IPEndPoint.Parse(tcp.Groups[2].Value);
        }
        else if (AdminLine().Match(line) is { Success: true } admin)
        {
            AdminUrl = admin.Groups[1].Value;
        }
        else if (line.StartsWith("Try ", StringComparison.Ordinal))
        {
            _inTryBlock = true;
        }
        else if (_inTryBlock && line.StartsWith("  ", StringComparison.Ordinal))
        {
            TryCommands.Add(line.Split('#')[0].Trim());
        }
        else if (_inTryBlock)
        {
            _inTryBlock = false;
        }

        if (line == "ProxyHost is ready.")
        {
            _ready.TrySetResult();
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Solution.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Solution.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^  http (http://\S+)$")]
    private static partial Regex HttpLine();

    [GeneratedRegex(@"^  tcp (\S+) (\S+)$")]
    private static partial Regex TcpLine();

    [GeneratedRegex(@"^  admin (http://\S+)$")]
    private static partial Regex AdminLine();
}
