using Microsoft.Extensions.Options;
using ProxyHost.Admin;

namespace ProxyHost.Hosting;

/// <summary>
/// Turns a configuration error found while the server starts (the forwarder's TCP route validation, options
/// validation, an address in use) into a short message naming the settings, instead of an unhandled-exception dump.
/// </summary>
internal static class StartupError
{
    public static bool IsConfigurationError(Exception ex) => ex switch
    {
        OptionsValidationException => true,
        AdminListenerException => true,
        IOException { InnerException: Microsoft.AspNetCore.Connections.AddressInUseException } => true,
        Microsoft.AspNetCore.Connections.AddressInUseException => true,
        InvalidOperationException { Message: var m } when m.Contains("configuration", StringComparison.OrdinalIgnoreCase) => true,
        _ => false,
    };

    public static void Print(Exception ex, TextWriter error, IServiceProvider? services = null)
    {
        error.WriteLine($"ProxyHost could not start: {ex.Message}");
        var printed = new HashSet<string> { ex.Message };
        for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            // The forwarder's message already lists every problem; only add what is new (e.g. the OS error).
            if (inner is not AggregateException && !ex.Message.Contains(inner.Message, StringComparison.Ordinal) && printed.Add(inner.Message))
            {
                error.WriteLine($"  {inner.Message}");
            }
        }
        // Kestrel names the address it could not bind, not the setting: name it when it is the admin listener's port.
        if (services?.GetService<AdminListener>()?.Url is { Port: > 0 } admin && ex is not AdminListenerException
            && ex.Message.Contains($":{admin.Port}", StringComparison.Ordinal))
        {
            error.WriteLine($"  That is the admin listener's address, set by {AdminOptions.UrlKey}.");
        }
        error.WriteLine("Run `ProxyHost doctor --config FILE` to check every setting, the kernel and the capabilities at once.");
        error.Flush();
    }
}
