// Placeholder entry point: the hosting helper replaces this with the real composition root (Hosting/).
var builder = WebApplication.CreateSlimBuilder(args);
var app = builder.Build();
app.MapGet("/healthz", () => "ok");
app.Run();
