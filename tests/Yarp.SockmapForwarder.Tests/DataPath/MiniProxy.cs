using System.Net;
using System.Net.Sockets;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>
/// The smallest proxy around <see cref="DataPathForwarder"/>: accepts on 127.0.0.1:0, connects to one backend,
/// forwards. Stands in for the YARP integration when a real client (iperf3) drives the data path.
/// </summary>
internal sealed class MiniProxy : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<Task<ForwardingResult>> _connections = new();

    public MiniProxy(DataPathForwarder forwarder, EndPoint backend, TcpRouteConfig config, int route = 2)
    {
        _listener = ProxiedConnection.Listen();
        _accepting = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await _listener.AcceptAsync(_stop.Token);
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                var task = Task.Run(async () =>
                {
                    var pb = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await pb.ConnectAsync(backend);
                    var request = new ForwardingRequest
                    {
                        Route = config, RouteIndex = route, ClientSocket = client, Backend = pb,
                    };
                    return await forwarder.ForwardAsync(request, CancellationToken.None);
                });
                lock (_connections)
                {
                    _connections.Add(task);
                }
            }
        });
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public ForwardingResult[] Results()
    {
        lock (_connections)
        {
            return _connections.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).ToArray();
        }
    }

    public async Task WaitAllAsync(TimeSpan timeout)
    {
        Task[] all;
        lock (_connections)
        {
            all = _connections.ToArray();
        }
        await Task.WhenAll(all).WaitAsync(timeout);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _accepting.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
