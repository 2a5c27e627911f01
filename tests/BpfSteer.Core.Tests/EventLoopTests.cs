using System.Collections.Concurrent;
using System.Reflection;
using BpfSteer.Internal;
using BpfSteer.Interop;
using BpfSteer.Testing;
using static BpfSteer.Interop.Libc;

namespace BpfSteer.Core.Tests;

/// <summary>The one loop type behind the transport's workers, the sockmap engine and the splice loops.</summary>
public class EventLoopTests
{
    [Fact]
    public async Task Schedule_FromOtherThreads_RunsOnTheLoopThreadInOrder()
    {
        using var loop = await TestLoop.StartNewAsync();
        var seen = new ConcurrentQueue<(int Item, bool OnLoop)>();
        for (var i = 0; i < 100; i++)
        {
            loop.Schedule(s => seen.Enqueue(((int)s!, loop.IsCurrentThread)), i);
        }
        await loop.InvokeAsync(() => { }).DefaultTimeout();

        Assert.Equal(Enumerable.Range(0, 100), seen.Select(s => s.Item));
        Assert.All(seen, s => Assert.True(s.OnLoop));
    }

    [Fact]
    public async Task Register_ReadableSocket_HandlerCalledOnTheLoopUntilUnregistered()
    {
        using var loop = await TestLoop.StartNewAsync();
        using var pair = LoopbackPair.Create();
        var handler = new CountingHandler(loop);
        var token = 0UL;
        await loop.InvokeAsync(() => token = loop.Register(pair.Accepted.SafeHandle, EPOLLIN | EPOLLET, handler)).DefaultTimeout();
        Assert.NotEqual(0UL, token);

        pair.Client.Send("x"u8.ToArray());
        await handler.Called.Task.DefaultTimeout();
        Assert.True(handler.OnLoop);

        await loop.InvokeAsync(() =>
        {
            loop.Unregister(pair.Accepted.SafeHandle, token);
            loop.Unregister(pair.Accepted.SafeHandle, token); // twice: not an error
        }).DefaultTimeout();
        var calls = handler.Calls;
        pair.Client.Send("y"u8.ToArray());
        await Task.Delay(50);
        await loop.InvokeAsync(() => { }).DefaultTimeout();
        Assert.Equal(calls, handler.Calls);
    }

    [Fact]
    public void HandlerTable_TokenRemovedAndSlotReused_OldTokenFindsNothing()
    {
        var table = new HandlerTable();
        var first = table.Reserve();
        table.Commit(first, new CountingHandler(null));
        Assert.True(table.Remove(first));
        Assert.False(table.Remove(first));

        var second = table.Reserve();
        var handler = new CountingHandler(null);
        table.Commit(second, handler);
        Assert.Equal((uint)first, (uint)second); // the slot is reused
        Assert.Null(table.Find(first));
        Assert.Same(handler, table.Find(second));
        Assert.Null(table.Find(0));
    }

    [Fact]
    public async Task TickInterval_Set_OnTickRunsRepeatedlyOnTheLoop()
    {
        using var loop = await TestLoop.StartNewAsync(tickMs: 5);
        await loop.TenTicks.Task.DefaultTimeout();
        Assert.True(loop.TicksOnLoop);
    }

    [Fact]
    public async Task StopAsync_QueuedWorkRunsThenOnStopped_ThreadEnds()
    {
        var loop = await TestLoop.StartNewAsync();
        var ran = false;
        loop.Schedule(_ => ran = true, null);
        await loop.StopAsync().DefaultTimeout();
        Assert.True(ran);
        Assert.True(loop.StoppedOnLoop);
    }

    [Fact]
    public async Task EpollFails_OnFaultedRuns_LaterWorkRunsOnTheThreadPool()
    {
        using var loop = await TestLoop.StartNewAsync();
        var epoll = (Epoll)typeof(EventLoop).GetField("_epoll", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(loop)!;
        var handle = (SafeFileDescriptorHandle)typeof(Epoll).GetField("_epoll", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(epoll)!;
        Close(handle.Detach());
        loop.Schedule(static _ => { }, null); // wake it: the next epoll_wait fails

        await loop.Faulted.Task.DefaultTimeout();
        Assert.True(loop.IsFaulted);
        var onPool = await Task.Run(async () =>
        {
            var done = new TaskCompletionSource<bool>();
            loop.Schedule(_ => done.SetResult(Thread.CurrentThread.IsThreadPoolThread), null);
            return await done.Task.DefaultTimeout();
        });
        Assert.True(onPool);
    }

    private sealed class CountingHandler(EventLoop? loop) : IEventLoopHandler
    {
        public TaskCompletionSource Called { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Calls;

        public bool OnLoop = true;

        public void OnEvents(uint events)
        {
            OnLoop &= loop?.IsCurrentThread ?? false;
            Calls++;
            Called.TrySetResult();
        }
    }

    private sealed class TestLoop : EventLoop, IDisposable
    {
        private int _ticks;

        private TestLoop(int tickMs) : base("eventloop-test", cpu: null) => TickInterval = tickMs;

        public TaskCompletionSource TenTicks { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<Exception> Faulted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool TicksOnLoop { get; private set; } = true;

        public bool StoppedOnLoop { get; private set; }

        public static async Task<TestLoop> StartNewAsync(int tickMs = Timeout.Infinite)
        {
            var loop = new TestLoop(tickMs);
            await loop.StartAsync().DefaultTimeout();
            return loop;
        }

        protected override void OnTick(long now)
        {
            TicksOnLoop &= IsCurrentThread;
            if (++_ticks == 10)
            {
                TenTicks.TrySetResult();
            }
        }

        protected override void OnStopped() => StoppedOnLoop = IsCurrentThread;

        protected override void OnHandlerFailed(Exception error) => throw new InvalidOperationException("no handler may fail here", error);

        protected override void OnFaulted(Exception error) => Faulted.TrySetResult(error);

        public void Dispose() => Stop(TimeSpan.FromSeconds(5));
    }
}
