using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using BpfSteer.Testing;
using ProxyHost.Tests.Infrastructure;

namespace ProxyHost.Tests;

/// <summary>
/// The transport out of file descriptors (EMFILE): a worker pauses accepting instead of spinning on its
/// level-triggered listener (counted: failed accept4 calls per second of exhaustion), logs that once, and serves the connections that waited in the backlog as soon as
/// descriptors are free again. The limit is lowered with prlimit on a running ProxyHost process, never on the test
/// host itself: a lowered limit inside the test runner also starved the runtime.
/// </summary>
[Collection(ProxyHostCollection.Name)]
public sealed class AcceptBackoffTests
{
    private const int Clients = 120;
    private const int Headroom = 40; // descriptors above the idle count: some connections are accepted, the rest wait
    private static readonly TimeSpan BackoffSlack = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Accept_OutOfDescriptors_PausesWithoutSpinningAndServesQueuedClientsLater()
    {
        // The .NET runtime itself can die when it needs a descriptor the clients have taken: about 1 full ProxyHost
        // suite run in 8 printed "Out of memory." (the runtime, not the transport: a thread it creates needs one).
        // That attempt says nothing about the transport's back-off, so it is repeated once; a second death fails.
        for (var attempt = 1; ; attempt++)
        {
            var output = await RunScenarioAsync();
            if (output is null)
            {
                return;
            }
            Assert.True(attempt < 2, "the ProxyHost runtime died twice while out of descriptors:\n" + output);
        }
    }

    /// <summary>Null when the scenario passed; the host output when the host's runtime died of descriptor exhaustion.</summary>
    private static async Task<string?> RunScenarioAsync()
    {
        using var config = new TempConfig("""
            { "Kestrel": { "Endpoints": { "Http": { "Url": "http://127.0.0.1:0" } } }, "ReverseProxy": { } }
            """);
        await using var host = await ProxyHostProcess.StartAsync(["--config", config.Path]);
        try
        {
            await RunScenarioAsync(host);
            return null;
        }
        catch (Exception)
        {
            await Task.Delay(500).DefaultTimeout(); // the dying runtime's last line may still be on its way
            if (host.Output.Contains("Out of memory.", StringComparison.Ordinal))
            {
                return host.Output;
            }
            throw;
        }
    }

    private static async Task RunScenarioAsync(ProxyHostProcess host)
    {
        var endpoint = new Uri(host.HttpUrl);
        var target = new IPEndPoint(IPAddress.Parse(endpoint.Host), endpoint.Port);
        // Warm up with the same load first: the runtime's lazily created resources (thread-pool threads and whatever
        // descriptors they need) must exist before the limit is lowered. Measured: without this the runtime itself
        // sometimes died ("Out of memory.") once the clients had taken every descriptor.
        await ServeOnceAsync(target);
        await Task.Delay(500).DefaultTimeout();

        var idle = Directory.GetFiles($"/proc/{host.Pid}/fd").Length;
        var original = SoftNoFileLimit(host.Pid);
        await SetNoFileLimitAsync(host.Pid, (idle + Headroom).ToString());
        var sockets = new List<Socket>();
        var starvedSince = DateTime.UtcNow;
        try
        {
            // Every client connects (the kernel completes the handshake into the backlog) and sends one request.
            var responses = new Task<bool>[Clients];
            for (var i = 0; i < Clients; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await s.ConnectAsync(target).DefaultTimeout();
                await s.SendAsync(Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")).DefaultTimeout();
                sockets.Add(s);
                responses[i] = ReadStatusOkAsync(s);
            }

            // Starved: some clients are still waiting and the pause was logged once per worker at most.
            await WaitUntilAsync(() => host.Output.Contains("accepting pauses for 100 ms", StringComparison.Ordinal), "the AcceptPaused warning");
            starvedSince = DateTime.UtcNow;
            await WaitUntilSettledAsync(responses);
            Assert.Contains(responses, r => !r.IsCompleted);
            Assert.InRange(Occurrences(host.Output, "accepting pauses for"), 1, Environment.ProcessorCount);

            // Release descriptors by closing the clients that were answered, until every client was served.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
            var closed = new bool[Clients];
            while (closed.Contains(false))
            {
                Assert.True(DateTime.UtcNow < deadline,
                    $"{closed.Count(c => !c)} of {Clients} clients not served after their turn:\n{host.Output}");
                await Task.WhenAny(responses.Where((_, i) => !closed[i])).WithTimeout(TimeSpan.FromSeconds(20));
                for (var i = 0; i < Clients; i++)
                {
                    if (!closed[i] && responses[i].IsCompleted)
                    {
                        Assert.True(responses[i].IsCompletedSuccessfully, $"client {i}: {responses[i].Exception?.GetBaseException().Message}\n{host.Output}");
                        Assert.True(await responses[i].DefaultTimeout(), $"client {i} got no HTTP response (connection closed first)\n{host.Output}");
                        sockets[i].Dispose();
                        closed[i] = true;
                    }
                }
            }
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }
            await SetNoFileLimitAsync(host.Pid, original);
        }
        await WaitUntilAsync(() => host.Output.Contains("Accepting again on", StringComparison.Ordinal), "the AcceptResumed message");
        var starvedFor = DateTime.UtcNow - starvedSince + BackoffSlack;

        // The back-off, counted: while out of descriptors each worker tries accept4 once per 100 ms pause. A listener
        // that spun instead (level-triggered, no pause) fails accept4 hundreds of thousands of times per second.
        // The bound uses a generous window (from the first pause until after the resume was seen, plus slack), so a
        // slow machine only loosens it; it does not make the test fail.
        var workers = await ReadWorkersAsync(host);
        var failures = workers.Sum(w => w.GetProperty("acceptResourceFailures").GetInt64());
        var pauses = workers.Sum(w => w.GetProperty("acceptPauses").GetInt64());
        var allowed = (long)(starvedFor.TotalMilliseconds / 100 * 2 + 4) * workers.Count;
        Assert.True(failures >= 1, "no failed accept4 was counted while the process was out of descriptors");
        Assert.True(failures <= allowed,
            $"{failures} failed accept4 calls in {starvedFor.TotalSeconds:F1} s out of descriptors (at most {allowed} with a 100 ms back-off): the listener spins");
        // One warning per episode (an episode ends with a successful accept; releasing clients one by one can start
        // a few more), never one per failed call.
        Assert.Equal(pauses, Occurrences(host.Output, "accepting pauses for"));
        host.AssertNoErrorsLogged();
    }

    /// <summary>All <see cref="Clients"/> connect, send one request and read its response head; then all close.</summary>
    private static async Task ServeOnceAsync(IPEndPoint target)
    {
        var sockets = new List<Socket>();
        try
        {
            var responses = new List<Task<bool>>();
            for (var i = 0; i < Clients; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(s);
                await s.ConnectAsync(target).DefaultTimeout();
                await s.SendAsync(Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")).DefaultTimeout();
                responses.Add(ReadStatusOkAsync(s));
            }
            Assert.All(await Task.WhenAll(responses).DefaultTimeout(), Assert.True);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    /// <summary>
    /// True once a complete HTTP response head arrived. Any status counts: the transport's job is to accept and deliver;
    /// /healthz itself may answer 503 while the process is out of descriptors (its checks open files too).
    /// </summary>
    private static async Task<bool> ReadStatusOkAsync(Socket socket)
    {
        var buffer = new byte[4096];
        var text = new StringBuilder();
        while (!text.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await socket.ReceiveAsync(buffer).WithTimeout(TimeSpan.FromSeconds(60));
            if (n == 0)
            {
                return false;
            }
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        return text.ToString().StartsWith("HTTP/1.1 ", StringComparison.Ordinal);
    }

    /// <summary>Sets the soft RLIMIT_NOFILE only: lowering the hard one could not be undone without CAP_SYS_RESOURCE.</summary>
    private static async Task SetNoFileLimitAsync(int pid, string limit)
    {
        var (exit, stdout, stderr) = await Infrastructure.Clients.RunAsync("prlimit", "--pid", pid.ToString(), $"--nofile={limit}:").DefaultTimeout();
        Assert.True(exit == 0, $"prlimit failed ({exit}): {stdout}{stderr}");
    }

    private static string SoftNoFileLimit(int pid)
        => File.ReadLines($"/proc/{pid}/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[3];

    /// <summary>The transport's workers from /bpfsteer/status (descriptors are free again when this runs).</summary>
    private static async Task<List<JsonElement>> ReadWorkersAsync(ProxyHostProcess host)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var json = await http.GetStringAsync(host.AdminUrl.TrimEnd('/') + "/bpfsteer/status").DefaultTimeout();
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("transport").GetProperty("workers").EnumerateArray().Select(w => w.Clone()).ToList();
    }

    /// <summary>Waits until no further response completed for 500 ms (the accepted clients have been answered).</summary>
    private static async Task WaitUntilSettledAsync(Task<bool>[] responses)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var last = -1;
        while (DateTime.UtcNow < deadline)
        {
            var done = responses.Count(r => r.IsCompleted);
            if (done == last)
            {
                return;
            }
            last = done;
            await Task.Delay(500).DefaultTimeout();
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(50).DefaultTimeout();
        }
    }

    private static int Occurrences(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
