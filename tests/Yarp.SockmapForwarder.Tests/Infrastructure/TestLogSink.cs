using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>Keeps every log entry of the proxy app so tests can read the access log and assert that no error was logged.</summary>
public sealed class TestLogSink : ILoggerProvider
{
    public ConcurrentQueue<LogEntry> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    public IEnumerable<LogEntry> AccessLog => Entries.Where(e => e.Category == "Yarp.SockmapForwarder.AccessLog");

    public IEnumerable<LogEntry> WithEventId(int id) => Entries.Where(e => e.EventId == id);

    public void AssertNoErrors() =>
        Assert.True(!Entries.Any(e => e.Level >= LogLevel.Error), "Errors were logged:\n" + string.Join("\n", Entries.Where(e => e.Level >= LogLevel.Error)));

    /// <summary>Waits (bounded) until an entry matching <paramref name="predicate"/> was logged.</summary>
    public async Task<LogEntry> WaitForAsync(Func<LogEntry, bool> predicate, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            if (Entries.FirstOrDefault(predicate) is { } entry)
            {
                return entry;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException("No matching log entry. Logged:\n" + string.Join("\n", Entries));
    }

    private sealed class Logger(TestLogSink owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
            owner.Entries.Enqueue(new LogEntry(logLevel, category, eventId.Id, formatter(state, exception), exception,
                values.ToDictionary(kv => kv.Key, kv => kv.Value)));
        }
    }
}
