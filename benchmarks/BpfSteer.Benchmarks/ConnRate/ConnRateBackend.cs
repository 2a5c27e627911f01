using static BpfSteer.Benchmarks.ConnRate.RawSocket;

namespace BpfSteer.Benchmarks.ConnRate;

/// <summary>
/// The backend of the connection-rate runs: one epoll thread (pin it with taskset), echo of whatever arrives, closed
/// when the client's end of stream arrives. With a greeting it speaks first (like SMTP or the demo greeter): every
/// accepted connection gets <c>greeting</c> bytes at once, then the echo.
/// </summary>
internal static unsafe class ConnRateBackend
{
    public static int Run(int port, int greeting)
    {
        var listener = Socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        SetInt(listener, SOL_SOCKET, SO_REUSEADDR, 1);
        var addr = stackalloc byte[16];
        Loopback(addr, port);
        if (Bind(listener, addr, 16) < 0 || Listen(listener, 4096) < 0)
        {
            Console.Error.WriteLine($"bind/listen 127.0.0.1:{port} failed: errno {Errno}");
            return 1;
        }
        var epoll = EpollCreate1(0);
        EpollAdd(epoll, listener, EPOLLIN, ulong.MaxValue);
        var buffer = new byte[64 * 1024];
        var hello = new byte[Math.Max(greeting, 1)];
        Array.Fill(hello, (byte)'g');
        Console.WriteLine($"ready port={port} greeting={greeting}");
        Console.Out.Flush();
        var events = stackalloc EpollEvent[256];
        fixed (byte* data = buffer)
        fixed (byte* greet = hello)
        {
            while (true)
            {
                var n = EpollWait(epoll, events, 256, -1);
                for (var i = 0; i < n; i++)
                {
                    if (events[i].Data == ulong.MaxValue)
                    {
                        for (var k = 0; k < 64; k++)
                        {
                            var fd = Accept4(listener, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
                            if (fd < 0)
                            {
                                break;
                            }
                            SetInt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
                            if (greeting > 0 && Send(fd, greet, (nuint)greeting, MSG_NOSIGNAL) != greeting)
                            {
                                Close(fd);
                                continue;
                            }
                            EpollAdd(epoll, fd, EPOLLIN | EPOLLRDHUP, (ulong)fd);
                        }
                        continue;
                    }
                    var conn = (int)events[i].Data;
                    var got = Recv(conn, data, (nuint)buffer.Length, 0);
                    if (got > 0)
                    {
                        // Small exchanges: the echo fits the send buffer; a short write ends the connection.
                        if (Send(conn, data, (nuint)got, MSG_NOSIGNAL) == got)
                        {
                            continue;
                        }
                    }
                    else if (got < 0 && Errno == EAGAIN)
                    {
                        continue;
                    }
                    Close(conn); // end of stream (or an error): close; epoll forgets the descriptor
                }
            }
        }
    }
}
