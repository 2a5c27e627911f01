using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ProxyHost.Health;

/// <summary>Writes /healthz as JSON (overall status, then each check with its description and data).</summary>
internal static class HealthResponseWriter
{
    public static async Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        using var buffer = new MemoryStream();
        // Buffered: Kestrel forbids the synchronous writes Utf8JsonWriter would make on the response body.
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            Write(w, report);
        }
        await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted);
    }

    private static void Write(Utf8JsonWriter w, HealthReport report)
    {
        w.WriteStartObject();
        w.WriteString("status", report.Status.ToString());
        w.WriteStartObject("checks");
        foreach (var (name, entry) in report.Entries)
        {
            w.WriteStartObject(name);
            w.WriteString("status", entry.Status.ToString());
            w.WriteString("description", entry.Description);
            w.WriteStartObject("data");
            foreach (var (key, value) in entry.Data)
            {
                w.WritePropertyName(key);
                JsonSerializer.Serialize(w, value, value.GetType());
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
