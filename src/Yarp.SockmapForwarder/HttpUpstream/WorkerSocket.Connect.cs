using System.Net;
using BpfSteer;
using BpfSteer.Interop;

namespace Yarp.SockmapForwarder.HttpUpstream;

internal sealed partial class WorkerSocket
{
    private TaskCompletionSource<WorkerSocket>? _connect;
    private CancellationTokenRegistration _connectCancellation;

    /// <summary>
    /// Opens a connection to <paramref name="remote"/> owned by <paramref name="loop"/>: socket() and connect() run on
    /// the worker, which then polls the socket. Fails with the <see cref="System.Net.Sockets.SocketException"/> a
    /// <see cref="System.Net.Sockets.Socket"/> would give for the same errno.
    /// </summary>
    public static Task<WorkerSocket> ConnectAsync(IWorkerLoop loop, IPEndPoint remote, CancellationToken cancellationToken)
    {
        var request = new ConnectRequest(loop, remote, cancellationToken);
        if (loop.IsCurrentThread)
        {
            request.Start();
        }
        else
        {
            loop.Schedule(static s => ((ConnectRequest)s!).Start(), request);
        }
        return request.Completion.Task;
    }

    private void CompleteConnect()
    {
        var completion = _connect!;
        _connect = null;
        _connectCancellation.Dispose();
        var errno = NativeConnect.TakeResult(_fd);
        if (errno != 0)
        {
            var error = SocketErrorMap.ToSocketException(errno);
            CloseOnWorker();
            completion.TrySetException(error);
            return;
        }
        completion.TrySetResult(this);
    }

    private void CancelConnect(TaskCompletionSource<WorkerSocket> completion, CancellationToken token)
    {
        if (_connect != completion)
        {
            return;
        }
        _connect = null;
        CloseOnWorker();
        completion.TrySetCanceled(token);
    }

    private sealed class ConnectRequest(IWorkerLoop loop, IPEndPoint remote, CancellationToken cancellationToken)
    {
        public TaskCompletionSource<WorkerSocket> Completion { get; } = new(loop.RunsApplicationInline
            ? TaskCreationOptions.None
            : TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>On the worker thread.</summary>
        public void Start()
        {
            if (cancellationToken.IsCancellationRequested)
            {
                Completion.TrySetCanceled(cancellationToken);
                return;
            }
            var started = NativeConnect.TryStart(remote, out var fd, out var inProgress);
            if (!started.IsSuccess)
            {
                Completion.TrySetException(SocketErrorMap.ToSocketException(started.Errno));
                return;
            }
            var socket = new WorkerSocket(loop, fd!, remote);
            try
            {
                socket._token = loop.Register(fd!, socket);
                socket._registered = true;
            }
            catch (Exception ex)
            {
                fd!.Dispose();
                Completion.TrySetException(ex);
                return;
            }
            loop.UpstreamCounters.OnConnectionOpened();
            if (!inProgress)
            {
                socket._writeReady = true;
                Completion.TrySetResult(socket);
                return;
            }
            socket._connect = Completion;
            if (cancellationToken.CanBeCanceled)
            {
                socket._connectCancellation = cancellationToken.UnsafeRegister(static (s, token) =>
                {
                    var (socket, completion) = ((WorkerSocket, TaskCompletionSource<WorkerSocket>))s!;
                    socket._loop.Schedule(static s =>
                    {
                        var (socket, completion, token) = ((WorkerSocket, TaskCompletionSource<WorkerSocket>, CancellationToken))s!;
                        socket.CancelConnect(completion, token);
                    }, (socket, completion, token));
                }, (socket, Completion));
            }
        }
    }
}
