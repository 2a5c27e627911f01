// ProxyHost: filled in by issue 5 (the drop-in host).
var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
app.Run();
