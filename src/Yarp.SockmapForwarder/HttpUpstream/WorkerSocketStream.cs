namespace Yarp.SockmapForwarder.HttpUpstream;

/// <summary>
/// The <see cref="Stream"/> SocketsHttpHandler gets from the per-worker ConnectCallback: the async calls go to the
/// <see cref="WorkerSocket"/>; synchronous ones block (never on the worker itself, which would wait for itself).
/// </summary>
/// <remarks>
/// The worker's epoll registration keeps the <see cref="WorkerSocket"/> alive, not this stream. YARP never disposes
/// the client of a replaced cluster configuration, so a pool can be dropped with idle connections in it: when nothing
/// references this stream any more, its finalizer closes the connection on the worker instead of leaking it.
/// </remarks>
internal sealed class WorkerSocketStream : Stream
{
    private readonly WorkerSocket _socket;

    public WorkerSocketStream(WorkerSocket socket) => _socket = socket;

    ~WorkerSocketStream() => _socket.Dispose();

    public WorkerSocket Socket => _socket;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => _socket.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => _socket.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        => _socket.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => _socket.WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ThrowIfOnWorker();
        var rented = new byte[buffer.Length];
        var received = _socket.ReadAsync(rented, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        rented.AsSpan(0, received).CopyTo(buffer);
        return received;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ThrowIfOnWorker();
        _socket.WriteAsync(buffer.ToArray(), CancellationToken.None).AsTask().GetAwaiter().GetResult();
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        _socket.Dispose();
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }

    private void ThrowIfOnWorker()
    {
        if (_socket.Loop.IsCurrentThread)
        {
            throw new NotSupportedException(
                "Synchronous I/O on a per-worker upstream connection from its own worker thread would wait for itself; use the async calls.");
        }
    }
}
