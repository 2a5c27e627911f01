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

    /// <summary>A read that waits for the worker: its buffer, caller and completion, reused for every read.</summary>
    private sealed class ReadOperation(WorkerSocket owner) : IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _source = new() { RunContinuationsAsynchronously = owner._asyncContinuations };
        private readonly WorkerSocket _owner = owner;
        private Memory<byte> _buffer;
        private IWorkerLoop? _downstream;
        private CancellationToken _cancellationToken;
        private CancellationTokenRegistration _registration;

        /// <summary>Waiting for an edge; worker thread only.</summary>
        public bool IsPending { get; private set; }

        public ValueTask<int> Begin(Memory<byte> buffer, IWorkerLoop? downstream, CancellationToken cancellationToken, bool onWorker)
        {
            _source.Reset();
            _buffer = buffer;
            _downstream = downstream;
            _cancellationToken = cancellationToken;
            var task = new ValueTask<int>(this, _source.Version);
            if (onWorker)
            {
                Wait();
            }
            else
            {
                _owner._loop.Schedule(static s => ((ReadOperation)s!).StartOnWorker(), this);
            }
            return task;
        }

        /// <summary>The edge came: try again (worker thread).</summary>
        public void Continue()
        {
            if (_owner.TryRead(_buffer.Span, _downstream, out var received, out var error))
            {
                Complete(received, error);
            }
        }

        public void Fail(Exception error)
        {
            if (IsPending)
            {
                Complete(0, error);
            }
        }

        private void StartOnWorker()
        {
            if (_owner._closed)
            {
                Complete(0, _owner.Closing(read: true));
                return;
            }
            if (_owner.TryRead(_buffer.Span, _downstream, out var received, out var error))
            {
                Complete(received, error);
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
                    var (operation, version) = ((ReadOperation, short))s!;
                    operation._owner._loop.Schedule(static s =>
                    {
                        var (operation, version) = ((ReadOperation, short))s!;
                        if (operation.IsPending && operation._source.Version == version)
                        {
                            operation.Complete(0, new OperationCanceledException(operation._cancellationToken));
                        }
                    }, (operation, version));
                }, (this, _source.Version));
            }
        }

        private void Complete(int received, Exception? error)
        {
            // Clear the state first: the continuation may run inline and start the next read.
            IsPending = false;
            _buffer = default;
            _downstream = null;
            _registration.Unregister();
            _registration = default;
            if (error is null)
            {
                _source.SetResult(received);
            }
            else
            {
                _source.SetException(error);
            }
        }

        public int GetResult(short token) => _source.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _source.OnCompleted(continuation, state, token, flags);
    }
}
