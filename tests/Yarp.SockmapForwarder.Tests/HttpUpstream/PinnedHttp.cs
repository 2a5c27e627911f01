using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Yarp.SockmapForwarder.Tests.HttpUpstream;

/// <summary>
/// Raw HTTP/1.1 keep-alive clients on a thread pinned to one CPU: on loopback the SYN is received on the connecting CPU,
/// so the BpfSteer selector gives every connection to that CPU's worker.
/// </summary>
public static class PinnedHttp
{
    /// <summary>
    /// Opens <paramref name="connections"/> connections from <paramref name="cpu"/> and sends <paramref name="rounds"/>
    /// rounds of one GET per connection (all requests of a round are sent before their responses are read, so they
    /// are in flight together). Returns every status code.
    /// </summary>
    public static Task<List<int>> GetAsync(int cpu, int port, string path, int connections, int rounds)
        => PinnedThread.RunAsync(cpu, () =>
        {
            var statuses = new List<int>();
            var sockets = new List<Socket>();
            try
            {
                for (var i = 0; i < connections; i++)
                {
                    var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 20_000, NoDelay = true };
                    s.Connect(IPAddress.Loopback, port);
                    sockets.Add(s);
                }
                var request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
                for (var round = 0; round < rounds; round++)
                {
                    foreach (var s in sockets)
                    {
                        s.Send(request);
                    }
                    foreach (var s in sockets)
                    {
                        statuses.Add(ReadResponse(s));
                    }
                }
            }
            finally
            {
                foreach (var s in sockets)
                {
                    s.Dispose();
                }
            }
            return statuses;
        });

    /// <summary>Reads one response with a Content-Length or chunked body; returns its status code.</summary>
    private static int ReadResponse(Socket socket)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (socket.Receive(one) == 0)
            {
                throw new IOException("connection closed before the response headers ended: " + head);
            }
            head.Append((char)one[0]);
        }
        var lines = head.ToString().Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1]);
        var length = lines.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        if (length is not null)
        {
            Skip(socket, int.Parse(length["Content-Length:".Length..].Trim()));
        }
        else if (lines.Any(l => l.Equals("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)))
        {
            while (true)
            {
                var size = Convert.ToInt32(ReadLine(socket), 16);
                Skip(socket, size + 2);
                if (size == 0)
                {
                    break;
                }
            }
        }
        return status;
    }

    private static string ReadLine(Socket socket)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (!line.ToString().EndsWith("\r\n", StringComparison.Ordinal))
        {
            if (socket.Receive(one) == 0)
            {
                throw new IOException("connection closed in a chunk header");
            }
            line.Append((char)one[0]);
        }
        return line.ToString(0, line.Length - 2);
    }

    private static void Skip(Socket socket, int count)
    {
        var buffer = new byte[Math.Max(1, Math.Min(count, 64 * 1024))];
        while (count > 0)
        {
            var n = socket.Receive(buffer, 0, Math.Min(buffer.Length, count), SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("connection closed in a response body");
            }
            count -= n;
        }
    }
}
