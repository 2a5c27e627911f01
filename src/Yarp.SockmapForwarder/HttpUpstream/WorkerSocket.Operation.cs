using System.Threading.Tasks.Sources;
using BpfSteer;

namespace Yarp.SockmapForwarder.HttpUpstream;

internal sealed partial class WorkerSocket
{
    /// <summary>
    /// A socket call that waits for the worker: its caller, cancellation and completion, reused for every call. The
    /// subclass says what one attempt is (<see cref="TryOnce"/>); this runs it on the worker when it is called elsewhere,
    /// again on every edge (<see cref="Continue"/>), and completes it with its result, an error, a cancellation or the
    /// socket's close (<see cref="Fail"/>).
    /// </summary>
    private abstract class WorkerOperation<TResult>(WorkerSocket owner, bool read)
    {
        private ManualResetValueTaskSourceCore<TResult> _source = new() { RunContinuationsAsynchronously = owner._asyncContinuations };
        private CancellationToken _cancellationToken;
        private CancellationTokenRegistration _registration;

        protected WorkerSocket Owner { get; } = owner;

        /// <summary>The worker of the request that asked (for the locality count).</summary>
        protected IWorkerLoop? Downstream { get; private set; }

        /// <summary>Waiting for an edge; worker thread only.</summary>
        public bool IsPending { get; private set; }

        /// <summary>One attempt on the worker thread; false when the socket is not ready (wait for an edge).</summary>
        protected abstract bool TryOnce(out TResult result, out Exception? error);

        /// <summary>Drops the caller's buffer once the call completes.</summary>
        protected abstract void ClearBuffer();

        /// <summary>Starts waiting (the caller's buffer is already stored); returns the token of the caller's ValueTask.</summary>
        protected short Start(IWorkerLoop? downstream, CancellationToken cancellationToken, bool onWorker)
        {
            _source.Reset();
            Downstream = downstream;
            _cancellationToken = cancellationToken;
            var version = _source.Version;
            if (onWorker)
            {
                Wait();
            }
            else
            {
                Owner._loop.Schedule(static s => ((WorkerOperation<TResult>)s!).StartOnWorker(), this);
            }
            return version;
        }

        /// <summary>The edge came: try again (worker thread).</summary>
        public void Continue()
        {
            if (TryOnce(out var result, out var error))
            {
                Complete(result, error);
            }
        }

        public void Fail(Exception error)
        {
            if (IsPending)
            {
                Complete(default!, error);
            }
        }

        private void StartOnWorker()
        {
            if (Owner._closed)
            {
                Complete(default!, Owner.Closing(read));
                return;
            }
            if (TryOnce(out var result, out var error))
            {
                Complete(result, error);
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
                    var (operation, version) = ((WorkerOperation<TResult>, short))s!;
                    operation.Owner._loop.Schedule(static s =>
                    {
                        var (operation, version) = ((WorkerOperation<TResult>, short))s!;
                        if (operation.IsPending && operation._source.Version == version)
                        {
                            operation.Complete(default!, new OperationCanceledException(operation._cancellationToken));
                        }
                    }, (operation, version));
                }, (this, _source.Version));
            }
        }

        private void Complete(TResult result, Exception? error)
        {
            // Clear the state first: the continuation may run inline and start the next call.
            IsPending = false;
            ClearBuffer();
            Downstream = null;
            _registration.Unregister();
            _registration = default;
            if (error is null)
            {
                _source.SetResult(result);
            }
            else
            {
                _source.SetException(error);
            }
        }

        public TResult GetResult(short token) => _source.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _source.OnCompleted(continuation, state, token, flags);
    }
}
