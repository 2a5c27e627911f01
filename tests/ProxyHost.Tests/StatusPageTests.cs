using System.Text.Json;
using BpfSteer.Testing;
using ProxyHost.Tests.Infrastructure;

namespace ProxyHost.Tests;

/// <summary>GET /bpfsteer in headless Chromium while traffic runs: the numbers the page shows must move.</summary>
[Collection(ProxyHostCollection.Name)]
public sealed class StatusPageTests
{
    // Everything the test reads from the rendered page, by the data-* names the page puts on its cells.
    private const string ReadPage = """
        (() => {
          if (!document.getElementById("polls")) return { polls: -1 };  // still loading
          const cell = (route, k) => document.querySelector(`#routes tr[data-route="${route}"] td[data-k="${k}"]`);
          const raw = (route, k) => { const c = cell(route, k); return c ? Number(c.dataset.raw) : -1; };
          const sum = k => [...document.querySelectorAll(`#workers tr[data-cpu] td[data-k="${k}"]`)].reduce((a, td) => a + Number(td.textContent), 0);
          return {
            polls: Number(document.getElementById("polls").textContent),
            error: document.getElementById("error").textContent,
            workers: document.querySelectorAll("#workers tr[data-cpu]").length,
            accepted: sum("accepted"),
            locality: [...document.querySelectorAll('#workers td[data-k="locality"]')].map(td => td.textContent),
            idleSpin: [...document.querySelectorAll('#workers td[data-k="idleSpin"]')].map(td => td.textContent),
            echoUp: raw("demo-echo", "bytesClientToBackend"),
            echoDown: raw("demo-echo", "bytesBackendToClient"),
            echoThroughput: raw("demo-echo", "throughput"),
            echoTotal: cell("demo-echo", "totalConnections") ? Number(cell("demo-echo", "totalConnections").textContent) : -1,
            requested: cell("demo-echo", "requestedCpu")?.textContent ?? "",
            observed: cell("demo-echo", "observedCpu")?.textContent ?? "",
            sockmapRow: document.querySelector('#kernel tr[data-feature="sockmap"] td[data-k="available"]')?.textContent ?? "",
            budget: document.getElementById("budget")?.textContent ?? "",
            queueRows: document.querySelectorAll("#queues tr[data-route]").length,
            echoHeldBack: document.querySelector('#queues tr[data-route="demo-echo"] td[data-k="heldBackByBudget"]')?.textContent ?? "",
          };
        })()
        """;

    [Fact]
    public async Task StatusPage_WhileTrafficRuns_NumbersShownMove()
    {
        await using var host = await ProxyHostProcess.StartAsync([]);
        await using var browser = await HeadlessChromium.OpenAsync(host.AdminUrl + "/bpfsteer");

        var first = await WaitForPageAsync(browser, p => p.GetProperty("polls").GetInt32() >= 1, "a first poll");
        Assert.Equal("", first.GetProperty("error").GetString());
        Assert.Equal(Environment.ProcessorCount, first.GetProperty("workers").GetInt32());
        Assert.Equal("yes", first.GetProperty("sockmapRow").GetString());
        Assert.Equal("any", first.GetProperty("requested").GetString());
        Assert.Contains("of 256.0 MiB", first.GetProperty("budget").GetString()); // the process budget and its use
        Assert.Equal(2, first.GetProperty("queueRows").GetInt32());               // one kernel-queue row per TCP route
        Assert.Equal("0", first.GetProperty("echoHeldBack").GetString());

        // Traffic for a few seconds: echo-route bytes (new connections each time) and HTTP requests through the route.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(6));
        var traffic = Task.Run(async () =>
        {
            var rounds = 0;
            while (!stop.IsCancellationRequested)
            {
                await Clients.EchoThroughAsync(host.TcpRoutes["demo-echo"], 512 * 1024);
                await Clients.CurlAsync(host.HttpUrl + "/");
                rounds++;
            }
            return rounds;
        });

        var sawThroughput = false;
        var polls = first.GetProperty("polls").GetInt32();
        JsonElement last = first;
        for (var i = 0; i < 30 && !traffic.IsCompleted; i++)
        {
            await Task.Delay(400);
            last = await browser.EvaluateAsync(ReadPage);
            sawThroughput |= last.GetProperty("echoThroughput").GetDouble() > 0;
        }
        Assert.True(await traffic.DefaultTimeout() > 0);

        var after = await WaitForPageAsync(browser, p => p.GetProperty("polls").GetInt32() >= last.GetProperty("polls").GetInt32() + 1, "a poll after the traffic");
        Assert.True(after.GetProperty("polls").GetInt32() > polls);
        Assert.True(after.GetProperty("echoUp").GetDouble() > first.GetProperty("echoUp").GetDouble(), $"client→backend bytes shown did not move: {first} → {after}");
        Assert.True(after.GetProperty("echoDown").GetDouble() > first.GetProperty("echoDown").GetDouble(), $"backend→client bytes shown did not move: {first} → {after}");
        Assert.True(after.GetProperty("echoTotal").GetInt32() > first.GetProperty("echoTotal").GetInt32());
        Assert.True(after.GetProperty("accepted").GetInt32() > first.GetProperty("accepted").GetInt32());
        Assert.True(sawThroughput, "the page never showed a non-zero throughput for the echo route while traffic ran");
        Assert.All(after.GetProperty("locality").EnumerateArray(), l => Assert.EndsWith("%", l.GetString()));
        // Every worker has run out of events at least at its ticks, so each shows the spin's share of its idle moments.
        Assert.All(after.GetProperty("idleSpin").EnumerateArray(), s => Assert.Matches(@"^\d+% of \d+$", s.GetString()));
        Assert.NotEqual("", after.GetProperty("observed").GetString());
        host.AssertNoErrorsLogged();
    }

    private static async Task<JsonElement> WaitForPageAsync(HeadlessChromium browser, Func<JsonElement, bool> condition, string what)
    {
        JsonElement page = default;
        for (var i = 0; i < 60; i++)
        {
            page = await browser.EvaluateAsync(ReadPage);
            if (condition(page))
            {
                return page;
            }
            await Task.Delay(250);
        }
        Assert.Fail($"the page never showed {what}; last: {page}");
        return page;
    }
}
