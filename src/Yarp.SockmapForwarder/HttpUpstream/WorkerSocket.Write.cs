using System.Threading.Tasks.Sources;
using BpfSteer;
using BpfSteer.Interop;

namespace Yarp.SockmapForwarder.HttpUpstream;

internal sealed partial class WorkerSocket
{
    private readonly WriteOperation _write;

    /// <summary>
    /// send all of <paramref name="buffer"/> on the worker: synchronous when called there and the socket takes it,
    /// else pending until epoll reports the socket writable. One write at a time; it may overlap one read.
    /// </summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }
        if (buffer.IsEmpty)
        {
            return default;
        }
        var downstream = DownstreamWorker.Current;
        if (_loop.IsCurrentThread)
        {
            if (_closed)
            {
                return ValueTask.FromException(Closing(read: false));
            }
            if (TryWrite(ref buffer, downstream, out var error))
            {
                return error is null ? default : ValueTask.FromException(error);
            }
        }
        return _write.Begin(buffer, downstream, cancellationToken, onWorker: _loop.IsCurrentThread);
    }

    /// <summary>send until done, EAGAIN (false: wait for an edge) or an error (true with <paramref name="error"/>).</summary>
    private bool TryWrite(ref ReadOnlyMemory<byte> buffer, IWorkerLoop? downstream, out Exception? error)
    {
        error = null;
        while (!buffer.IsEmpty)
        {
            if (!_writeReady)
            {
                return false;
            }
            var result = NativeSocket.TrySend(_fd, buffer.Span);
            if (result.IsSuccess)
            {
                buffer = buffer.Slice(result.IntValue);
                Count(downstream);
                continue;
            }
            if (result.Errno == Errno.EAGAIN)
            {
                _writeReady = false;
                return false;
            }
            var socketError = SocketErrorMap.ToSocketException(result.Errno);
            error = new IOException($"Unable to write data to the transport connection: {socketError.Message}.", socketError);
            Count(downstream);
            return true;
        }
        return true;
    }

    /// <summary>A write that waits for the worker, reused for every write (its result is only "done").</summary>
    private sealed class WriteOperation(WorkerSocket owner) : WorkerOperation<bool>(owner, read: false), IValueTaskSource
    {
        private ReadOnlyMemory<byte> _buffer;

        public ValueTask Begin(ReadOnlyMemory<byte> buffer, IWorkerLoop? downstream, CancellationToken cancellationToken, bool onWorker)
        {
            _buffer = buffer;
            return new ValueTask(this, Start(downstream, cancellationToken, onWorker));
        }

        protected override bool TryOnce(out bool result, out Exception? error)
        {
            result = true;
            return Owner.TryWrite(ref _buffer, Downstream, out error);
        }

        protected override void ClearBuffer() => _buffer = default;

        void IValueTaskSource.GetResult(short token) => GetResult(token);
    }
}
