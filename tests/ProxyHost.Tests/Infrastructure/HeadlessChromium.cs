using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using BpfSteer.Testing;

namespace ProxyHost.Tests.Infrastructure;

/// <summary>
/// Debian's chromium in headless mode, driven over the DevTools protocol (a ClientWebSocket, Runtime.evaluate): the
/// page runs its own polling script for real and the test reads what it renders.
/// </summary>
public sealed partial class HeadlessChromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    public static async Task<HeadlessChromium> OpenAsync(string url)
    {
        var profile = Directory.CreateTempSubdirectory("proxyhost-chromium-").FullName;
        var info = new ProcessStartInfo("chromium") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", url,
        })
        {
            info.ArgumentList.Add(a);
        }
        var browser = new HeadlessChromium(Process.Start(info)!, profile);
        try
        {
            var devtools = await browser.DevToolsEndpointAsync().WithTimeout(TimeSpan.FromSeconds(60));
            using var http = new HttpClient();
            var page = await FindPageAsync(http, devtools, url);
            await browser._socket.ConnectAsync(new Uri(page), CancellationToken.None).DefaultTimeout();
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    /// <summary>Evaluates a JavaScript expression in the page and returns its value as JSON.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        var id = Interlocked.Increment(ref _nextId);
        var request = JsonSerializer.SerializeToUtf8Bytes(new
        {
            id,
            method = "Runtime.evaluate",
            @params = new { expression, returnByValue = true },
        });
        await _socket.SendAsync(request, WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
        for (var i = 0; i < 1000; i++)
        {
            using var message = JsonDocument.Parse(await ReceiveAsync());
            if (message.RootElement.TryGetProperty("id", out var got) && got.GetInt32() == id)
            {
                var result = message.RootElement.GetProperty("result");
                if (result.TryGetProperty("exceptionDetails", out var error))
                {
                    throw new InvalidOperationException($"The page threw: {error}");
                }
                return result.GetProperty("result").GetProperty("value").Clone();
            }
        }
        throw new InvalidOperationException("No DevTools reply to Runtime.evaluate.");
    }

    private async Task<string> ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        WebSocketReceiveResult result;
        do
        {
            result = await _socket.ReceiveAsync(buffer, CancellationToken.None).DefaultTimeout();
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);
        return Encoding.UTF8.GetString(message.ToArray());
    }

    // Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr once it is up.
    private async Task<Uri> DevToolsEndpointAsync()
    {
        while (await _process.StandardError.ReadLineAsync() is { } line)
        {
            if (DevToolsLine().Match(line) is { Success: true } m)
            {
                var ws = new Uri(m.Groups[1].Value);
                _ = _process.StandardError.ReadToEndAsync(); // keep draining so chromium never blocks on a full pipe
                return new Uri($"http://{ws.Authority}/");
            }
        }
        throw new InvalidOperationException($"chromium exited ({_process.ExitCode}) without opening DevTools.");
    }

    private static async Task<string> FindPageAsync(HttpClient http, Uri devtools, string url)
    {
        for (var i = 0; i < 50; i++)
        {
            using var list = JsonDocument.Parse(await http.GetStringAsync(new Uri(devtools, "json/list")).DefaultTimeout());
            foreach (var target in list.RootElement.EnumerateArray())
            {
                if (target.GetProperty("type").GetString() == "page" && target.GetProperty("url").GetString()!.StartsWith(url, StringComparison.Ordinal))
                {
                    return target.GetProperty("webSocketDebuggerUrl").GetString()!;
                }
            }
            await Task.Delay(200);
        }
        throw new InvalidOperationException($"chromium has no page target for {url}.");
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().DefaultTimeout();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // chromium's last writes can race the delete; the temp folder is harmless.
        }
    }

    [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
    private static partial Regex DevToolsLine();
}
