using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/micro -- --filter '*'           (every benchmark)
// dotnet run -c Release --project bench/micro -- --filter '*RangedGet*' --job short
BenchmarkSwitcher.FromAssembly(typeof(Fluid.Serverless.Micro.RangedGetBenchmarks).Assembly).Run(args);
