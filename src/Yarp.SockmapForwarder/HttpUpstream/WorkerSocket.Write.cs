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

    /// <summary>A write that waits for the worker, reused for every write.</summary>
    private sealed class WriteOperation(WorkerSocket owner) : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _source = new() { RunContinuationsAsynchronously = owner._asyncContinuations };
        private readonly WorkerSocket _owner = owner;
        private ReadOnlyMemory<byte> _buffer;
        private IWorkerLoop? _downstream;
        private CancellationToken _cancellationToken;
        private CancellationTokenRegistration _registration;

        public bool IsPending { get; private set; }

        public ValueTask Begin(ReadOnlyMemory<byte> buffer, IWorkerLoop? downstream, CancellationToken cancellationToken, bool onWorker)
        {
            _source.Reset();
            _buffer = buffer;
            _downstream = downstream;
            _cancellationToken = cancellationToken;
            var task = new ValueTask(this, _source.Version);
            if (onWorker)
            {
                Wait();
            }
            else
            {
                _owner._loop.Schedule(static s => ((WriteOperation)s!).StartOnWorker(), this);
            }
            return task;
        }

        public void Continue()
        {
            if (_owner.TryWrite(ref _buffer, _downstream, out var error))
            {
                Complete(error);
            }
        }

        public void Fail(Exception error)
        {
            if (IsPending)
            {
                Complete(error);
            }
        }

        private void StartOnWorker()
        {
            if (_owner._closed)
            {
                Complete(_owner.Closing(read: false));
                return;
            }
            if (_owner.TryWrite(ref _buffer, _downstream, out var error))
            {
                Complete(error);
                return;
            }
            Wait();
        }

        private void Wait()
        {
            IsPending = true;
            if (_cancellationToken.CanBeCanceled)
            {
                _registration = _cancellationToken.UnsafeRegister(static (s, token) =>
                {
                    var (operation, version) = ((WriteOperation, short))s!;
                    operation._owner._loop.Schedule(static s =>
                    {
                        var (operation, version) = ((WriteOperation, short))s!;
                        if (operation.IsPending && operation._source.Version == version)
                        {
                            operation.Complete(new OperationCanceledException(operation._cancellationToken));
                        }
                    }, (operation, version));
                }, (this, _source.Version));
            }
        }

        private void Complete(Exception? error)
        {
            IsPending = false;
            _buffer = default;
            _downstream = null;
            _registration.Unregister();
            _registration = default;
            if (error is null)
            {
                _source.SetResult(true);
            }
            else
            {
                _source.SetException(error);
            }
        }

        public void GetResult(short token) => _source.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _source.OnCompleted(continuation, state, token, flags);
    }
}
