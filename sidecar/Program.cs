using Fluid.Serverless.Sidecar.Hosting;

// `wait-ready` (the legacy sidecar's postStart hook) only polls /readyz: no host, so it starts in milliseconds.
if (args is [WaitReadyCommand.Name, ..])
{
    return await WaitReadyCommand.RunAsync(args[1..], Environment.GetEnvironmentVariables(), Console.Out, Console.Error);
}

// `mount-helper`: the root child of a FUSE sidecar that dropped its privileges; no host, no config, no secrets.
if (args is [MountHelperCommand.Name, ..])
{
    return MountHelperCommand.Run(args[1..]);
}

// `warm`: the one-shot warm-up of the shared cache tier a DataLoad's Job runs; exits when done.
if (args is [WarmCommand.Name, ..])
{
    return await WarmCommand.RunAsync(args[1..], Environment.GetEnvironmentVariables(), Console.Out, Console.Error);
}

// Config first: a bad one exits with code 2 and a message naming the field, before anything listens.
var load = SidecarConfigLoader.Load(args, Environment.GetEnvironmentVariables());
if (!load.Succeeded)
{
    return SidecarHostingExtensions.ReportConfigErrors(load);
}

// Command-line args are ours (--config, --demo), not ASP.NET configuration keys.
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
builder.AddFluidSidecar(load.Config!, load.Origin, load.Watch);
var app = builder.Build();
app.MapFluidSidecar();
return await app.RunFluidSidecarAsync(load.Demo);
