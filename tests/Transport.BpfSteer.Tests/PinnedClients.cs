using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Transport.BpfSteer.Tests;

/// <summary>HTTP/1.1 clients on a thread pinned to one CPU: on loopback the SYN is received on the connecting CPU.</summary>
public static class PinnedClients
{
    public sealed record Landing(int ClientCpu, int WorkerCpu, int IncomingCpu, ulong Cookie);

    /// <summary>Opens <paramref name="count"/> connections one after another from <paramref name="cpu"/>, asks /conn on each.</summary>
    public static Task<List<Landing>> GetConnFromCpuAsync(int cpu, int port, int count)
        => PinnedThread.RunAsync(cpu, () =>
        {
            var landings = new List<Landing>(count);
            var request = Encoding.ASCII.GetBytes("GET /conn HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            var buffer = new byte[4096];
            for (var i = 0; i < count; i++)
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
                s.Connect(IPAddress.Loopback, port);
                s.Send(request);
                var response = new StringBuilder();
                int n;
                while ((n = s.Receive(buffer)) > 0)
                {
                    response.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }
                var text = response.ToString();
                var body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..].Split(' ');
                landings.Add(new Landing(cpu, int.Parse(body[0]), int.Parse(body[1]), ulong.Parse(body[2])));
            }
            return landings;
        });
}
