using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using BpfSteer.Interop;
using BpfSteer.Testing;
using Xunit.Abstractions;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>
/// The process budget (docs/design.md, "Sockmap: back-pressure and the queue bound"): the sum of every direction's backlog — bytes
/// redirected but not yet in the peer's send queue, charged to no socket — stays within
/// <see cref="SockmapForwarderOptions.KernelQueueBudget"/>, directions held back by it park instead, and no byte is lost.
/// The backlog worker runs on the CPU whose softirq redirected the bytes (on loopback, the sender's); a real-time sender on
/// that CPU starves it, so the backlogs of several connections grow at once, as on a busy machine.
/// </summary>
[Collection(DataPathCollection.Name)]
public sealed class KernelQueueBudgetTests(ForwarderFixture fixture, ITestOutputHelper output)
{
    private const long Budget = 8L << 20;
    private const long MaxQueued = 4L << 20;
    private const int Connections = 8;
    private const int Bytes = 64 << 20;

    [Fact]
    public async Task Forward_SendersStarveTheBacklogWorker_BudgetHoldsTheSumAndEveryByteArrives()
    {
        using var forwarder = new DataPathForwarder(fixture.LoggerFactory, new SockmapForwarderOptions { KernelQueueBudget = Budget, RunSelfTest = false });
        Assert.True(forwarder.SockmapUsable, forwarder.SockmapDetail);
        var connections = new List<ProxiedConnection>();
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                connections.Add(await ProxiedConnection.StartAsync(forwarder, TcpForwarderMode.Sockmap, maxQueued: MaxQueued, route: 20).DefaultTimeout());
            }
            var readers = connections.Select(c => Task.Run(() => ProxiedConnection.HashToEndAsync(c.Backend))).ToArray();

            long maxUsed = 0;
            var maxHeld = 0;
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    maxUsed = Math.Max(maxUsed, forwarder.KernelQueue.UsedBytes);
                    maxHeld = Math.Max(maxHeld, forwarder.GetRouteStats(20).HeldBackByBudget);
                    await Task.Delay(10);
                }
            });

            var expected = await Task.Factory.StartNew(() => SendStarvingTheWorker(connections.Select(c => c.User).ToList()),
                TaskCreationOptions.LongRunning).WithTimeout(TimeSpan.FromSeconds(120));
            var received = await Task.WhenAll(readers).WithTimeout(TimeSpan.FromSeconds(120));
            sampling.Cancel();
            await sampler.DefaultTimeout();

            var queue = forwarder.KernelQueue;
            output.WriteLine($"budget: used at most {maxUsed >> 10} KiB (sampled), peak {queue.PeakBytes >> 10} KiB, budget parks {queue.BudgetParks}, " +
                $"held back at most {maxHeld} connections; {forwarder.GetRouteStats(20).Parks}");
            for (var i = 0; i < Connections; i++)
            {
                Assert.Equal(Bytes, received[i].Length);
                Assert.Equal(expected[i], received[i].Hash);
            }
            // Eight connections, each allowed 4 MiB of backlog, together held no more than the 8 MiB budget (up to one skb per CPU).
            Assert.InRange(queue.PeakBytes, 1, Budget + (512 << 10));
            Assert.True(queue.BudgetParks > 0, "no direction parked for the budget: the worker was not starved enough to reach it");
            foreach (var c in connections)
            {
                c.Backend.Shutdown(SocketShutdown.Send);
            }
            foreach (var c in connections)
            {
                var result = await c.Forwarding.DefaultTimeout();
                Assert.Equal((DataPathKind.Sockmap, CloseReason.Completed), (result.Path, result.CloseReason));
            }
            Assert.Equal(0, forwarder.KernelQueue.UsedBytes); // every share left the budget with its connection
        }
        finally
        {
            foreach (var c in connections)
            {
                await c.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// On this thread, pinned to CPU 0 and made SCHED_FIFO (chrt): sends <see cref="Bytes"/> on each socket, round robin, without
    /// blocking, and sleeps only when every socket is full. Returns each stream's SHA-256.
    /// </summary>
    private static byte[][] SendStarvingTheWorker(List<Socket> sockets)
    {
        CpuAffinity.SetCurrentThreadAffinity([0]);
        using (var chrt = Process.Start("chrt", ["-f", "-p", "1", CpuAffinity.CurrentThreadId().ToString()])!)
        {
            chrt.WaitForExit();
            Assert.Equal(0, chrt.ExitCode);
        }
        try
        {
            var hashes = sockets.Select(_ => IncrementalHash.CreateHash(HashAlgorithmName.SHA256)).ToArray();
            var sent = new int[sockets.Count];
            var chunk = new byte[64 * 1024];
            var random = new Random(11);
            var pending = new ReadOnlyMemory<byte>[sockets.Count];
            while (sent.Any(s => s < Bytes))
            {
                var progress = false;
                for (var i = 0; i < sockets.Count; i++)
                {
                    if (pending[i].IsEmpty && sent[i] < Bytes)
                    {
                        random.NextBytes(chunk);
                        var data = chunk.ToArray();
                        hashes[i].AppendData(data);
                        pending[i] = data;
                    }
                    if (pending[i].IsEmpty)
                    {
                        continue;
                    }
                    var r = NativeSocket.TrySend(sockets[i].SafeHandle, pending[i].Span, Libc.MSG_DONTWAIT | Libc.MSG_NOSIGNAL);
                    if (r.IsSuccess)
                    {
                        pending[i] = pending[i][(int)r.Value..];
                        sent[i] += (int)r.Value;
                        progress = true;
                    }
                    else
                    {
                        Assert.Equal(Errno.EAGAIN, r.Errno);
                    }
                }
                if (!progress)
                {
                    Thread.Sleep(1);
                }
            }
            foreach (var s in sockets)
            {
                s.Shutdown(SocketShutdown.Send);
            }
            return hashes.Select(h => h.GetHashAndReset()).ToArray();
        }
        finally
        {
            using var normal = Process.Start("chrt", ["-o", "-p", "0", CpuAffinity.CurrentThreadId().ToString()])!;
            normal.WaitForExit();
        }
    }
}
