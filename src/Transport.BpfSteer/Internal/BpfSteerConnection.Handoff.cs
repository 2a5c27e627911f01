using System.Buffers;
using System.Net.Sockets;

namespace BpfSteer.Transport.Internal;

/// <summary>
/// The socket hand-off: the worker stops reading, sends what the application already wrote, leaves epoll and gives up
/// the descriptor; the bytes it read that the application did not consume come back with it, so nothing is read twice
/// and nothing is lost. The caller must not have a read pending on <c>Transport.Input</c> while detaching.
/// </summary>
internal sealed partial class BpfSteerConnection
{
    private volatile TaskCompletionSource<int>? _handoff;

    private async ValueTask<SocketHandoff> DetachAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var handoff = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_shutdownLock)
        {
            if (_socketShutdown || _handoff is not null)
            {
                throw new InvalidOperationException($"Connection '{ConnectionId}' was already {(_handoff is null ? "closed" : "detached")}.");
            }
            _handoff = handoff;
        }

        // Written-but-unsent bytes go out first: completing our output lets the send loop drain it and stop (no FIN).
        await Transport.Output.CompleteAsync().ConfigureAwait(false);
        _worker.Schedule(static s =>
        {
            var c = (BpfSteerConnection)s!;
            c._input.Writer.CancelPendingFlush(); // a receive loop paused on a full pipe stops
            c._readable.Set();                    // a receive loop waiting for data sees the hand-off and stops
        }, this);

        int fd;
        try
        {
            fd = await handoff.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The worker finishes the detach anyway; close what it hands back so the descriptor does not leak.
            _ = handoff.Task.ContinueWith(static t => new Socket(new SafeSocketHandle(t.Result, true)).Dispose(), TaskScheduler.Default);
            throw;
        }

        var buffered = ReadOnlyMemory<byte>.Empty;
        var input = Transport.Input;
        if (input.TryRead(out var result))
        {
            buffered = result.Buffer.ToArray();
            input.AdvanceTo(result.Buffer.End);
        }
        await input.CompleteAsync().ConfigureAwait(false);
        BpfSteerLog.ConnectionHandedOff(_logger, ConnectionId, fd, buffered.Length);
        return new SocketHandoff(new Socket(new SafeSocketHandle(fd, ownsHandle: true)), buffered, WorkerCpu);
    }

    private sealed class HandoffFeature(BpfSteerConnection connection) : ISocketHandoffFeature
    {
        public ValueTask<SocketHandoff> DetachAsync(CancellationToken cancellationToken = default)
            => connection.DetachAsync(cancellationToken);
    }
}
