using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Yarp.SockmapForwarder.DataPath.Sockmap;

/// <summary>
/// The start-up self-test that gates the sockmap path (docs/design.md, "Sockmap: start-up self-test"): real loopback
/// connections through the engine, checking the semantics the forwarder relies on: early data both ways with a
/// preamble, 1 MiB each way byte-exact, half-close in each direction with the tail after it, and a stalled reader
/// making the verdict park and resume without losing or reordering a byte. Uses the reserved route index
/// <see cref="RouteIndexes.SelfTest"/>.
/// </summary>
internal static class SockmapSelfTest
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>Null when every check passed, else what failed.</summary>
    public static string? Run(SockmapEngine engine)
    {
        try
        {
            return Exchange(engine, 1 << 20, maxQueued: 16L << 20, stallMs: 0)
                ?? Exchange(engine, 8 << 20, maxQueued: 1 << 20, stallMs: 300, expectParking: true);
        }
        catch (Exception ex)
        {
            return ex.GetType().Name + ": " + ex.Message;
        }
    }

    private static string? Exchange(SockmapEngine engine, int size, long maxQueued, int stallMs, bool expectParking = false)
    {
        using var clientListener = Listen();
        using var backendListener = Listen();
        using var user = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        user.Connect(clientListener.LocalEndPoint!);
        var pc = clientListener.Accept();
        var pb = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        pb.Connect(backendListener.LocalEndPoint!);
        using var backend = backendListener.Accept();
        user.ReceiveTimeout = backend.ReceiveTimeout = user.SendTimeout = backend.SendTimeout = (int)Timeout.TotalMilliseconds;

        var up = RandomNumberGenerator.GetBytes(size);
        var down = RandomNumberGenerator.GetBytes(size);
        var earlyUp = RandomNumberGenerator.GetBytes(1000);
        var earlyDown = RandomNumberGenerator.GetBytes(300);
        var tail = RandomNumberGenerator.GetBytes(100);
        user.Send(earlyUp);     // client-first protocols: queued before pairing
        backend.Send(earlyDown); // server-first protocols: queued before pairing

        if (!engine.TryAllocate(out var index))
        {
            return "no free connection slot for the self-test";
        }
        SocketIo.Adopt(pc);
        SocketIo.Adopt(pb);
        var request = new ForwardingRequest
        {
            Route = new TcpRouteConfig
            {
                RouteId = "self-test", Listen = "127.0.0.1:0", ClusterId = "self-test", Mode = TcpForwarderMode.Sockmap,
                IdleTimeout = Timeout, MaxQueuedBytes = maxQueued,
            },
            RouteIndex = RouteIndexes.SelfTest, ClientSocket = pc, Backend = pb,
            BackendPreamble = "PRE"u8.ToArray(), ClientBufferedData = "BUF"u8.ToArray(),
        };
        var connection = new SockmapConnection(engine, index, request);
        // Start-up, not a request path: waiting here is the point.
        var (outcome, detail) = connection.PairAsync(static () => null, CancellationToken.None).AsTask().WaitAsync(Timeout).GetAwaiter().GetResult();
        if (outcome != PairOutcome.Paired)
        {
            engine.Release(index);
            pc.Dispose();
            pb.Dispose();
            return "pairing failed: " + detail;
        }
        engine.Start(connection);

        var sendUp = Task.Run(() => { user.Send(up); user.Shutdown(SocketShutdown.Send); });
        var readUp = Task.Run(() => { Thread.Sleep(stallMs); return ReadToEnd(backend); });
        var readDown = Task.Run(() => ReadToEnd(user));
        var gotUp = readUp.WaitAsync(Timeout).GetAwaiter().GetResult();
        backend.Send(down);
        backend.Send(tail); // after the client's half-close the other direction still flows
        backend.Shutdown(SocketShutdown.Send);
        var gotDown = readDown.WaitAsync(Timeout).GetAwaiter().GetResult();
        sendUp.WaitAsync(Timeout).GetAwaiter().GetResult();
        var result = connection.Completion.WaitAsync(Timeout).GetAwaiter().GetResult();

        byte[] expectUp = [.. "PRE"u8, .. "BUF"u8, .. earlyUp, .. up];
        byte[] expectDown = [.. earlyDown, .. down, .. tail];
        if (!gotUp.AsSpan().SequenceEqual(expectUp))
        {
            return $"client→backend: {gotUp.Length} bytes received, {expectUp.Length} expected, or content differs";
        }
        if (!gotDown.AsSpan().SequenceEqual(expectDown))
        {
            return $"backend→client: {gotDown.Length} bytes received, {expectDown.Length} expected, or content differs";
        }
        if (result.CloseReason != CloseReason.Completed)
        {
            return "the connection ended with " + result.CloseReason;
        }
        if (expectParking && connection.Parks == 0)
        {
            return "a stalled reader did not make the verdict park: the queue bound does not hold";
        }
        return null;
    }

    private static Socket Listen()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        s.Listen(4);
        return s;
    }

    private static byte[] ReadToEnd(Socket socket)
    {
        var ms = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = socket.Receive(buffer)) > 0)
        {
            ms.Write(buffer, 0, n);
        }
        return ms.ToArray();
    }
}
