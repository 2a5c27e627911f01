using BpfSteer;
using BpfSteer.Interop;

namespace Yarp.SockmapForwarder.HttpUpstream;

/// <summary>
/// A shared-pool upstream connection (per-worker pools off) that counts, for the request's downstream worker, whether
/// each read and write completed on that worker's CPU. The runtime's socket engine does the recv/send on the thread
/// that then runs the completion (or on the caller when it completes at once), so the CPU seen here is where the call
/// ran, give or take a migration in between.
/// </summary>
internal sealed class MeasuredStream(Stream inner) : Stream
{
    public override bool CanRead => inner.CanRead;

    public override bool CanWrite => inner.CanWrite;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var downstream = DownstreamWorker.Current;
        var read = inner.ReadAsync(buffer, cancellationToken);
        if (read.IsCompletedSuccessfully)
        {
            Count(downstream);
            return read;
        }
        return AwaitRead(read, downstream);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var downstream = DownstreamWorker.Current;
        var write = inner.WriteAsync(buffer, cancellationToken);
        if (write.IsCompletedSuccessfully)
        {
            Count(downstream);
            return write;
        }
        return AwaitWrite(write, downstream);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();

    private static async ValueTask<int> AwaitRead(ValueTask<int> read, IWorkerLoop? downstream)
    {
        var received = await read.ConfigureAwait(false);
        Count(downstream);
        return received;
    }

    private static async ValueTask AwaitWrite(ValueTask write, IWorkerLoop? downstream)
    {
        await write.ConfigureAwait(false);
        Count(downstream);
    }

    private static void Count(IWorkerLoop? downstream)
        => downstream?.UpstreamCounters.CountOperation(CpuAffinity.CurrentCpu() == downstream.Cpu);
}
