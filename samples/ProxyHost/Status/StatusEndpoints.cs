using System.Reflection;

namespace ProxyHost.Status;

/// <summary>Maps <c>GET /bpfsteer/status</c> (the JSON contract) and <c>GET /bpfsteer</c> (the live page).</summary>
internal static class StatusEndpoints
{
    private const string PageResource = "ProxyHost.Status.bpfsteer.html";

    public static IEndpointRouteBuilder MapBpfSteerStatus(this IEndpointRouteBuilder endpoints)
    {
        var page = LoadPage();

        endpoints.MapGet("/bpfsteer/status", (StatusSnapshotSource source) =>
            Results.Bytes(StatusJsonWriter.ToUtf8Bytes(source.Take()), "application/json; charset=utf-8"))
            .WithDisplayName("BpfSteer status (JSON)");

        // The page is self-contained (inline CSS and script, no CDN): it must work on a machine with no internet.
        endpoints.MapGet("/bpfsteer", () => Results.Bytes(page, "text/html; charset=utf-8"))
            .WithDisplayName("BpfSteer status page");

        return endpoints;
    }

    private static byte[] LoadPage()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(PageResource)
            ?? throw new InvalidOperationException($"The embedded resource '{PageResource}' is missing from ProxyHost.dll.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
