using Microsoft.Extensions.Logging;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>One forwarder (one BPF object, one self-test) shared by the data-path tests; records error logs.</summary>
public sealed class ForwarderFixture : IDisposable
{
    public ForwarderFixture()
    {
        Logs = new RecordingLoggerProvider();
        LoggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddProvider(Logs).SetMinimumLevel(LogLevel.Debug));
        Forwarder = new DataPathForwarder(LoggerFactory, new SockmapForwarderOptions());
        Assert.True(Forwarder.SockmapUsable, Forwarder.SockmapDetail);
    }

    internal DataPathForwarder Forwarder { get; }

    internal ILoggerFactory LoggerFactory { get; }

    internal RecordingLoggerProvider Logs { get; }

    public void Dispose()
    {
        Forwarder.Dispose();
        LoggerFactory.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class DataPathCollection : ICollectionFixture<ForwarderFixture>
{
    public const string Name = "DataPath";
}

/// <summary>Collects log entries so tests can assert that nothing was logged at Error level.</summary>
internal sealed class RecordingLoggerProvider : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<(LogLevel Level, EventId Id, string Message)> _entries = new();

    public IReadOnlyCollection<(LogLevel Level, EventId Id, string Message)> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(RecordingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner._entries.Enqueue((logLevel, eventId, formatter(state, exception)));
    }
}
