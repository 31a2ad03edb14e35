using Fluid.Serverless.Injector.Analysis;
using Fluid.Serverless.Injector.Hosting;
using Fluid.Serverless.Injector.Offline;

// `fluid-injector inject|explain …` and `analyze` are command-line tools; anything else starts the webhook.
if (args.Length > 0 && args[0] == "analyze")
{
    return await AnalyzeCommand.RunAsync(args, Console.Out, Console.Error);
}

if (args.Length > 0 && args[0] is "inject" or "explain" or "sidecar-config" or "help" or "--help" or "-h")
{
    return OfflineCommand.Run(args, Console.In, Console.Out, Console.Error);
}

var app = InjectorHost.Build(args);
await app.RunAsync();
return 0;
