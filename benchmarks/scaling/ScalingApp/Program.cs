// The scaling scenario's server: GET /plaintext on the BpfSteer transport (--transport bpfsteer) or on Kestrel's
// Sockets transport (--transport sockets), so wrk measures the transport and nothing else. Also the HTTP backend
// behind the forwarder's TCP routes. Prints "listening URL" once bound.
//   dotnet ScalingApp.dll --transport bpfsteer --urls http://127.0.0.1:0
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var transport = builder.Configuration["transport"] ?? "bpfsteer";
switch (transport)
{
    case "bpfsteer":
        builder.WebHost.UseBpfSteeredTransport();
        break;
    case "sockets":
        break; // Kestrel's default
    default:
        Console.Error.WriteLine($"--transport must be bpfsteer or sockets, not '{transport}'.");
        return 2;
}

var app = builder.Build();
var hello = "Hello, World!"u8.ToArray();
app.MapGet("/plaintext", () => Results.Bytes(hello, "text/plain"));
await app.StartAsync();
foreach (var address in app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses)
{
    Console.WriteLine($"listening {address}");
}
Console.Out.Flush();
await app.WaitForShutdownAsync();
return 0;
