using Microsoft.Extensions.Logging;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>One captured log entry, with its structured values (e.g. the access log's BytesClientToBackend).</summary>
public sealed record LogEntry(LogLevel Level, string Category, int EventId, string Message, Exception? Exception, IReadOnlyDictionary<string, object?> Values)
{
    public override string ToString() => $"{Level} {Category}[{EventId}]: {Message} {Exception}";
}
