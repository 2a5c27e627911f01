using System.Diagnostics;
using static BpfSteer.Benchmarks.ConnRate.RawSocket;

namespace BpfSteer.Benchmarks.ConnRate;

/// <summary>
/// The connection-per-exchange load: <c>concurrency</c> clients on one epoll thread, each repeating connect, an exchange,
/// shutdown(SHUT_WR), read to end of stream, close. Client-first (greeting 0): send <c>size</c> bytes, read <c>size</c>
/// back. Server-first (greeting G): read the backend's G-byte greeting first (its first byte is the time to first byte),
/// then the same exchange. Per connection it records the whole life (connect() to end of stream) and, server-first,
/// the time to the first byte; connections that end inside the measured window (after the warm-up) count.
/// </summary>
internal sealed unsafe class ConnRateClient
{
    private enum Phase { Connecting, Greeting, Sending, Receiving, Draining }

    private sealed class Slot
    {
        public int Fd = -1;
        public Phase Phase;
        public long Started;
        public long FirstByte;
        public int Done;
    }

    private readonly int _port;
    private readonly int _size;
    private readonly int _greeting;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly List<float> _latencyUs = new(1 << 16);
    private readonly List<float> _ttfbUs = new(1 << 16);
    private long _warmupEnd;
    private long _end;
    private long _total;
    private long _errors;
    private int _epoll;
    private string _lastError = "";

    private ConnRateClient(int port, int size, int greeting)
    {
        _port = port;
        _size = size;
        _greeting = greeting;
    }

    /// <summary>Runs the load and prints one JSON line; exit code 0, or 1 when not one connection completed.</summary>
    public static int Run(int port, int concurrency, double seconds, double warmup, int size, int greeting)
    {
        var client = new ConnRateClient(port, size, greeting);
        return client.Execute(concurrency, seconds, warmup);
    }

    private int Execute(int concurrency, double seconds, double warmup)
    {
        _epoll = EpollCreate1(0);
        var start = Stopwatch.GetTimestamp();
        _warmupEnd = start + (long)(warmup * Stopwatch.Frequency);
        _end = _warmupEnd + (long)(seconds * Stopwatch.Frequency);
        var slots = new Slot[concurrency];
        for (var i = 0; i < concurrency; i++)
        {
            slots[i] = new Slot();
            Open(slots[i], i);
        }
        var events = stackalloc EpollEvent[256];
        var open = concurrency;
        while (open > 0)
        {
            var n = EpollWait(_epoll, events, 256, 100);
            for (var i = 0; i < n; i++)
            {
                var index = (int)events[i].Data;
                var slot = slots[index];
                if (!Advance(slot, events[i].Events))
                {
                    continue; // still in progress
                }
                if (Stopwatch.GetTimestamp() < _end)
                {
                    Open(slot, index);
                }
                else
                {
                    open--;
                }
            }
            if (n == 0 && Stopwatch.GetTimestamp() > _end + 5 * Stopwatch.Frequency)
            {
                _lastError = $"{open} connections still open 5 s after the end";
                break;
            }
        }
        Close(_epoll);
        var windowSeconds = (double)(_end - _warmupEnd) / Stopwatch.Frequency;
        _latencyUs.Sort();
        _ttfbUs.Sort();
        var json = $"{{\"conns_per_sec\":{_latencyUs.Count / windowSeconds:F0},\"measured\":{_latencyUs.Count},\"total\":{_total},\"errors\":{_errors}," +
            $"\"p50_us\":{Percentile(_latencyUs, 0.50):F1},\"p99_us\":{Percentile(_latencyUs, 0.99):F1}," +
            $"\"ttfb_p50_us\":{Percentile(_ttfbUs, 0.50):F1},\"ttfb_p99_us\":{Percentile(_ttfbUs, 0.99):F1}," +
            $"\"concurrency\":{slots.Length},\"last_error\":\"{_lastError}\"}}";
        Console.WriteLine(json);
        return _latencyUs.Count > 0 ? 0 : 1;
    }

    private static double Percentile(List<float> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * p))];

    private void Open(Slot slot, int index)
    {
        slot.Started = Stopwatch.GetTimestamp();
        slot.FirstByte = 0;
        slot.Done = 0;
        slot.Fd = Socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        SetInt(slot.Fd, IPPROTO_TCP, TCP_NODELAY, 1);
        var addr = stackalloc byte[16];
        Loopback(addr, _port);
        var r = Connect(slot.Fd, addr, 16);
        slot.Phase = Phase.Connecting;
        if (r < 0 && Errno != EINPROGRESS)
        {
            _lastError = $"connect errno {Errno}";
        }
        EpollAdd(_epoll, slot.Fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, (ulong)index);
    }

    /// <summary>Moves a connection on as far as it can; true when it has ended (the slot is free).</summary>
    private bool Advance(Slot slot, uint events)
    {
        fixed (byte* buffer = _buffer)
        {
            while (true)
            {
                switch (slot.Phase)
                {
                    case Phase.Connecting:
                    {
                        int error = 0;
                        uint len = sizeof(int);
                        GetSockOpt(slot.Fd, SOL_SOCKET, SO_ERROR, &error, &len);
                        if (error != 0)
                        {
                            return Fail(slot, $"connect failed: errno {error}");
                        }
                        if ((events & (EPOLLOUT | EPOLLIN | EPOLLHUP)) == 0)
                        {
                            return false;
                        }
                        slot.Phase = _greeting > 0 ? Phase.Greeting : Phase.Sending;
                        slot.Done = 0;
                        break;
                    }
                    case Phase.Sending:
                    {
                        var n = Send(slot.Fd, buffer + slot.Done, (nuint)(_size - slot.Done), MSG_NOSIGNAL);
                        if (n < 0)
                        {
                            return Errno == EAGAIN ? false : Fail(slot, $"send errno {Errno}");
                        }
                        slot.Done += (int)n;
                        if (slot.Done == _size)
                        {
                            slot.Phase = Phase.Receiving;
                            slot.Done = 0;
                        }
                        break;
                    }
                    case Phase.Greeting:
                    case Phase.Receiving:
                    {
                        var want = slot.Phase == Phase.Greeting ? _greeting : _size;
                        var n = Recv(slot.Fd, buffer, (nuint)(want - slot.Done), 0);
                        if (n < 0)
                        {
                            return Errno == EAGAIN ? false : Fail(slot, $"recv errno {Errno}");
                        }
                        if (n == 0)
                        {
                            return Fail(slot, $"end of stream after {slot.Done} of {want} bytes ({slot.Phase})");
                        }
                        if (slot.FirstByte == 0)
                        {
                            slot.FirstByte = Stopwatch.GetTimestamp();
                        }
                        slot.Done += (int)n;
                        if (slot.Done == want)
                        {
                            slot.Done = 0;
                            if (slot.Phase == Phase.Greeting)
                            {
                                slot.Phase = Phase.Sending;
                            }
                            else
                            {
                                Shutdown(slot.Fd, SHUT_WR);
                                slot.Phase = Phase.Draining;
                            }
                        }
                        break;
                    }
                    case Phase.Draining:
                    {
                        var n = Recv(slot.Fd, buffer, (nuint)_buffer.Length, 0);
                        if (n < 0)
                        {
                            return Errno == EAGAIN ? false : Fail(slot, $"recv (draining) errno {Errno}");
                        }
                        if (n > 0)
                        {
                            return Fail(slot, "unexpected bytes after the response");
                        }
                        var now = Stopwatch.GetTimestamp();
                        Close(slot.Fd);
                        slot.Fd = -1;
                        _total++;
                        if (now >= _warmupEnd && now <= _end)
                        {
                            _latencyUs.Add((float)((now - slot.Started) * 1e6 / Stopwatch.Frequency));
                            if (_greeting > 0)
                            {
                                _ttfbUs.Add((float)((slot.FirstByte - slot.Started) * 1e6 / Stopwatch.Frequency));
                            }
                        }
                        return true;
                    }
                }
            }
        }
    }

    private bool Fail(Slot slot, string why)
    {
        _errors++;
        _lastError = why;
        Close(slot.Fd);
        slot.Fd = -1;
        return true;
    }
}
