using System.Text.Json;
using System.Text.RegularExpressions;

namespace ProxyHost.Hosting;

/// <summary>
/// A configuration file that cannot be read (missing, not JSON, a key twice) as one line naming the file, the line and
/// the problem, instead of the configuration system's nested exceptions and their stack traces.
/// </summary>
internal static partial class ConfigFileError
{
    public static bool TryDescribe(Exception ex, out string message)
    {
        message = "";
        switch (ex)
        {
            case FileNotFoundException missing:
                message = missing.Message;
                return true;
            case InvalidDataException:
                var file = FileInMessage().Match(ex.Message) is { Success: true } m ? m.Groups[1].Value : null;
                var where = "";
                var problem = ex.InnerException?.Message ?? ex.Message;
                for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
                {
                    if (inner is JsonException { LineNumber: { } line } json)
                    {
                        // System.Text.Json counts lines and bytes from 0 and appends them to its message; editors count from 1.
                        where = $"line {line + 1}, position {json.BytePositionInLine + 1}: ";
                        problem = JsonPosition().Replace(json.Message, "").Trim();
                        break;
                    }
                    problem = inner.Message;
                }
                message = file is null
                    ? $"cannot read the configuration: {where}{problem}"
                    : $"cannot read the configuration file '{file}': {where}{problem}";
                return true;
            default:
                return false;
        }
    }

    // FileConfigurationProvider: "Failed to load configuration from file '/etc/x.json'."
    [GeneratedRegex(@"file '([^']+)'")]
    private static partial Regex FileInMessage();

    // System.Text.Json: "... LineNumber: 2 | BytePositionInLine: 4."
    [GeneratedRegex(@"\s*(Path: \S+ \| )?LineNumber: \d+ \| BytePositionInLine: \d+\.?")]
    private static partial Regex JsonPosition();
}
