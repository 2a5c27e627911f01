using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Security.Cryptography;
using BpfSteer.Testing;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>The client as Kestrel-style pipes (no socket hand-off) ↔ a real backend socket.</summary>
[Collection(DataPathCollection.Name)]
public sealed class PipePathTests(ForwarderFixture fixture)
{
    [Fact]
    public async Task Forward_ClientPipes_ByteExactHalfCloseBothWays()
    {
        var (forwarding, transportInput, transportOutput, backend) = await Start(TimeSpan.FromSeconds(30));
        var up = RandomNumberGenerator.GetBytes(8 << 20);
        var readUp = ProxiedConnection.HashToEndAsync(backend);
        for (var offset = 0; offset < up.Length; offset += 100_000)
        {
            await transportInput.WriteAsync(up.AsMemory(offset, Math.Min(100_000, up.Length - offset))).DefaultTimeout();
        }
        await transportInput.CompleteAsync(); // the client's FIN
        Assert.Equal(SHA256.HashData(up), (await readUp.DefaultTimeout()).Hash);
        var down = RandomNumberGenerator.GetBytes(3 << 20);
        await ProxiedConnection.SendAllAsync(backend, down).DefaultTimeout();
        backend.Shutdown(SocketShutdown.Send);
        var got = new MemoryStream();
        while (true)
        {
            var read = await transportOutput.ReadAsync().DefaultTimeout();
            foreach (var segment in read.Buffer)
            {
                got.Write(segment.Span);
            }
            transportOutput.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted)
            {
                break;
            }
        }
        Assert.Equal(down, got.ToArray());
        var result = await forwarding.DefaultTimeout();
        Assert.Equal((DataPathKind.UserSpace, CloseReason.Completed, (long)up.Length, (long)down.Length), (result.Path, result.CloseReason, result.BytesClientToBackend, result.BytesBackendToClient));
        backend.Dispose();
    }

    [Fact]
    public async Task Forward_ClientPipesBackendResets_ResultSaysBackendReset()
    {
        var (forwarding, _, _, backend) = await Start(TimeSpan.FromSeconds(30));
        backend.LingerState = new LingerOption(true, 0);
        backend.Close();
        Assert.Equal(CloseReason.BackendReset, (await forwarding.DefaultTimeout()).CloseReason);
    }

    [Fact]
    public async Task Forward_ClientPipesIdle_IdleTimeout()
    {
        var (forwarding, _, _, backend) = await Start(TimeSpan.FromMilliseconds(300));
        Assert.Equal(CloseReason.IdleTimeout, (await forwarding.DefaultTimeout()).CloseReason);
        Assert.Empty(await ProxiedConnection.ReadToEndAsync(backend).DefaultTimeout());
        backend.Dispose();
    }

    private async Task<(Task<ForwardingResult>, PipeWriter, PipeReader, Socket)> Start(TimeSpan idle)
    {
        using var backendListener = ProxiedConnection.Listen();
        var pb = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await pb.ConnectAsync(backendListener.LocalEndPoint!).DefaultTimeout();
        var backend = await backendListener.AcceptAsync().DefaultTimeout();
        var toApp = new Pipe();
        var fromApp = new Pipe();
        var request = new ForwardingRequest
        {
            Route = TestRoutes.Config("pipes", TcpForwarderMode.Auto, idle, 4 << 20), RouteIndex = 13, Backend = pb,
            ClientPipe = new Duplex(toApp.Reader, fromApp.Writer), ClientBufferedData = ReadOnlyMemory<byte>.Empty,
        };
        return (Task.Run(() => fixture.Forwarder.ForwardAsync(request, CancellationToken.None)), toApp.Writer, fromApp.Reader, backend);
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
