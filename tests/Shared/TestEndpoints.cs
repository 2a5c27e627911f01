using System.Net.WebSockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace BpfSteer.Testing;

/// <summary>The endpoints every test backend serves the same way (the transport's test app, the forwarder's upstream).</summary>
public static class TestEndpoints
{
    /// <summary>
    /// POST /echo returns the request body (no Content-Length: chunked on HTTP/1.1); GET /chunked writes five flushed
    /// lines; POST /upload answers "{bytes} {SHA-256 hex}" of the body; /ws echoes WebSocket messages until Close.
    /// </summary>
    public static void MapCommonTestEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/echo", async (HttpContext ctx) =>
        {
            ctx.Response.ContentType = "application/octet-stream";
            await ctx.Request.Body.CopyToAsync(ctx.Response.Body);
        });
        app.MapGet("/chunked", async (HttpContext ctx) =>
        {
            for (var i = 0; i < 5; i++)
            {
                await ctx.Response.WriteAsync($"chunk {i}\n");
                await ctx.Response.Body.FlushAsync();
            }
        });
        app.MapPost("/upload", async (HttpContext ctx) =>
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            long total = 0;
            int n;
            while ((n = await ctx.Request.Body.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                total += n;
            }
            return $"{total} {Convert.ToHexStringLower(sha.GetHashAndReset())}";
        });
        app.Map("/ws", async (HttpContext ctx) =>
        {
            if (!ctx.WebSockets.IsWebSocketRequest)
            {
                ctx.Response.StatusCode = 400;
                return;
            }
            using var ws = await ctx.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[64 * 1024];
            while (true)
            {
                var result = await ws.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }
                await ws.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, CancellationToken.None);
            }
        });
    }
}
