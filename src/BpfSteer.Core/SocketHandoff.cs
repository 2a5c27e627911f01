using System.Net.Sockets;

namespace BpfSteer;

/// <summary>The result of <see cref="ISocketHandoffFeature.DetachAsync"/>: the socket and the bytes read but not consumed.</summary>
public sealed class SocketHandoff : IDisposable
{
    public SocketHandoff(Socket socket, ReadOnlyMemory<byte> bufferedData, int workerCpu)
    {
        Socket = socket;
        BufferedData = bufferedData;
        WorkerCpu = workerCpu;
    }

    /// <summary>The connected, non-blocking socket; the new owner disposes it.</summary>
    public Socket Socket { get; }

    /// <summary>Bytes already read from the socket by the worker that the application had not consumed, in order.</summary>
    public ReadOnlyMemory<byte> BufferedData { get; }

    /// <summary>The CPU of the worker that accepted the connection.</summary>
    public int WorkerCpu { get; }

    public void Dispose() => Socket.Dispose();
}
