// Placeholder entry point: the injector helper replaces this (Hosting/).
var builder = WebApplication.CreateSlimBuilder(args);
var app = builder.Build();
app.MapGet("/healthz", () => "ok");
app.Run();
