using System.Net.Sockets;
using System.Text;
using BpfSteer.Testing;

namespace Transport.BpfSteer.Tests;

/// <summary>One keep-alive GET over a raw socket, so a test controls which connection (and worker) serves it.</summary>
internal static class RawHttp
{
    public static async Task<string> GetAsync(Socket client, string path)
    {
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")).DefaultTimeout();
        var buffer = new byte[4096];
        var text = new StringBuilder();
        while (true)
        {
            var n = await client.ReceiveAsync(buffer).DefaultTimeout();
            Assert.True(n > 0);
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            var s = text.ToString();
            var headerEnd = s.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headerEnd < 0)
            {
                continue;
            }
            var length = int.Parse(s.Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)).Split(':')[1]);
            if (s.Length >= headerEnd + 4 + length)
            {
                return s.Substring(headerEnd + 4, length);
            }
        }
    }
}
