using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using BpfSteer;
using BpfSteer.Interop;

namespace Yarp.SockmapForwarder.HttpUpstream;

internal sealed partial class WorkerSocket
{
    private readonly ReadOperation _read;

    /// <summary>
    /// recv into <paramref name="buffer"/> on the worker: synchronous when called there and data is queued, else
    /// pending until epoll reports the socket readable. A zero-byte read waits for readability without consuming.
    /// One read at a time (the Stream contract); it may overlap one write.
    /// </summary>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }
        var downstream = DownstreamWorker.Current;
        if (_loop.IsCurrentThread)
        {
            if (_closed)
            {
                return ValueTask.FromException<int>(Closing(read: true));
            }
            if (TryRead(buffer.Span, downstream, out var received, out var error))
            {
                return error is null ? new ValueTask<int>(received) : ValueTask.FromException<int>(error);
            }
        }
        return _read.Begin(buffer, downstream, cancellationToken, onWorker: _loop.IsCurrentThread);
    }

    /// <summary>One recv on the worker thread. False: the socket has nothing now (the caller waits for an edge).</summary>
    private bool TryRead(Span<byte> buffer, IWorkerLoop? downstream, out int received, out Exception? error)
    {
        received = 0;
        error = null;
        if (!_readReady && !_peerClosed)
        {
            return false; // no edge since the last EAGAIN or short read: the queue is empty, skip the syscall
        }
        if (buffer.IsEmpty)
        {
            return true; // zero-byte read: "readable now" is all it asks
        }
        var result = NativeSocket.TryReceive(_fd, buffer);
        if (result.IsSuccess)
        {
            received = result.IntValue;
            if (received < buffer.Length && !_peerClosed)
            {
                // A short read drained the queue; the next arrival raises a new edge. Not after a hang-up: the EOF or
                // error is still to be read and no new edge will announce it.
                _readReady = false;
            }
            Count(downstream);
            return true;
        }
        if (result.Errno == Errno.EAGAIN)
        {
            _readReady = false;
            return false;
        }
        var socketError = SocketErrorMap.ToSocketException(result.Errno);
        error = new IOException($"Unable to read data from the transport connection: {socketError.Message}.", socketError);
        Count(downstream);
        return true;
    }

    /// <summary>A read that waits for the worker, reused for every read.</summary>
    private sealed class ReadOperation(WorkerSocket owner) : WorkerOperation<int>(owner, read: true), IValueTaskSource<int>
    {
        private Memory<byte> _buffer;

        public ValueTask<int> Begin(Memory<byte> buffer, IWorkerLoop? downstream, CancellationToken cancellationToken, bool onWorker)
        {
            _buffer = buffer;
            return new ValueTask<int>(this, Start(downstream, cancellationToken, onWorker));
        }

        protected override bool TryOnce(out int result, out Exception? error) => Owner.TryRead(_buffer.Span, Downstream, out result, out error);

        protected override void ClearBuffer() => _buffer = default;
    }
}
