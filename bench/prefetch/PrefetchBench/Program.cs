using System.Collections;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Hosting;
using Fluid.Serverless.Sidecar.Prefetch;
using Fluid.Serverless.Sidecar.SourceChain;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PrefetchBench;

// Two measurements for bench/prefetch/run.sh; each prints key=value lines the script parses.
//   prefetch ENDPOINT BUCKET PREFIX CACHE_DIR WORKERS EXPECTED_FILE [BLOCK_BYTES]   (EXPECTED_FILE: "sha256 size key" per line)
//   switch WORK_DIR TRIALS EVENTS(true|false)
return args switch
{
    ["prefetch", var endpoint, var bucket, var prefix, var cacheDir, var workers, var expected] =>
        await Bench.PrefetchAsync(endpoint, bucket, prefix, cacheDir, int.Parse(workers, CultureInfo.InvariantCulture), expected, SidecarDefaults.BlockSizeBytes),
    ["prefetch", var endpoint, var bucket, var prefix, var cacheDir, var workers, var expected, var blockBytes] =>
        await Bench.PrefetchAsync(endpoint, bucket, prefix, cacheDir, int.Parse(workers, CultureInfo.InvariantCulture), expected, int.Parse(blockBytes, CultureInfo.InvariantCulture)),
    ["switch", var workDir, var trials, var events] =>
        await Bench.SwitchAsync(workDir, int.Parse(trials, CultureInfo.InvariantCulture), bool.Parse(events)),
    _ => Bench.Usage(),
};

internal static partial class Bench
{
    private const string SecretVariable = "PREFETCH_BENCH_SECRET";

    public static int Usage()
    {
        Console.Error.WriteLine("usage: PrefetchBench prefetch ENDPOINT BUCKET PREFIX CACHE_DIR WORKERS EXPECTED_FILE | switch WORK_DIR TRIALS EVENTS");
        return 2;
    }

    public static async Task<int> PrefetchAsync(string endpoint, string bucket, string prefix, string cacheDirectory, int workers, string expectedFile, int blockBytes)
    {
        var config = new DatasetConfig
        {
            Name = "bench",
            Source = $"s3://{bucket}/",
            Options = new Dictionary<string, string> { ["endpoint"] = endpoint, ["accessKeyId"] = "testing", ["region"] = "us-east-1" },
            SecretOptions = new Dictionary<string, string> { ["secretAccessKey"] = SecretVariable },
        };
        await using var s3 = new SourceFactory(name => name == SecretVariable ? "testing" : null).Create(config);
        var source = new CountingSource(s3);
        var dataset = new Dataset(config, source);
        await using var cache = new DiskBlockCache(
            new DiskBlockCacheOptions
            {
                Directory = cacheDirectory,
                QuotaBytes = 64L << 30,
                BlockSize = blockBytes,
                MinFreeBytes = 0,
                PrefetchFetchConcurrency = workers,
            },
            NullLogger<DiskBlockCache>.Instance,
            TimeProvider.System);
        // BENCH_SPAN_BYTES: the largest range one GET fetches (cache.fetchSpanBytes); the block size = one GET per block.
        var readerOptions = long.TryParse(Environment.GetEnvironmentVariable("BENCH_SPAN_BYTES"), CultureInfo.InvariantCulture, out var spanBytes)
            ? new ObjectReaderOptions { MaxSpanBytes = spanBytes }
            : new ObjectReaderOptions();
        await using var reader = new ObjectReader(cache, readerOptions, NullLogger<ObjectReader>.Instance, TimeProvider.System);
        using var manager = new PrefetchManager(new PrefetchConfig { Workers = workers }, reader, cache, TimeProvider.System, NullLoggerFactory.Instance);
        if (!PrefetchEntry.TryParse(prefix, out var entry, out var error))
        {
            Console.Error.WriteLine(error);
            return 2;
        }

        var stopwatch = Stopwatch.StartNew();
        var job = manager.StartAdminJob(dataset, [entry]);
        await job.Completion;
        var seconds = stopwatch.Elapsed.TotalSeconds;
        var progress = job.GetProgress();

        // Outside the timed part: every byte read back through the cache must equal the seeded bytes, with no
        // read reaching the remote.
        var readsBefore = source.Reads;
        var verified = 0;
        var buffer = new byte[blockBytes];
        foreach (var line in await File.ReadAllLinesAsync(expectedFile))
        {
            var parts = line.Split(' ', 3);
            var obj = await source.HeadAsync(parts[2], CancellationToken.None) ?? throw new InvalidOperationException($"'{parts[2]}' is missing");
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            for (long offset = 0; offset < obj.Size;)
            {
                var read = await reader.ReadAsync(dataset, obj, offset, buffer, CancellationToken.None);
                hash.AppendData(buffer, 0, read);
                offset += read;
            }

            if (Convert.ToHexStringLower(hash.GetHashAndReset()) != parts[0])
            {
                Console.Error.WriteLine($"SHA-256 mismatch for '{parts[2]}'");
                return 1;
            }

            verified++;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"phase={progress.Phase} seconds={seconds:F3} files={progress.FilesDone} failed={progress.FilesFailed} bytes={progress.BytesDone} fetched={progress.BytesFetched} requests={cache.GetStatistics().RemoteRequests} verified={verified} remote_reads_after={source.Reads - readsBefore}"));
        return progress.Phase == PrefetchPhase.Complete && source.Reads == readsBefore ? 0 : 1;
    }

    /// <summary>
    /// Time from kubelet's atomic swap (the rename of "..data_tmp" over "..data") to the first request the S3 endpoint
    /// answers from the new source, on the real host (AddFluidSidecar + AddConfigReload).
    /// </summary>
    public static async Task<int> SwitchAsync(string workDirectory, int trials, bool fileEvents)
    {
        var podInfo = Path.Combine(workDirectory, "podinfo");
        var sources = new[] { Path.Combine(workDirectory, "a"), Path.Combine(workDirectory, "b") };
        Directory.CreateDirectory(podInfo);
        foreach (var (dir, marker) in sources.Zip(new[] { "a", "b" }))
        {
            Directory.CreateDirectory(dir);
            await File.WriteAllTextAsync(Path.Combine(dir, $"marker-{marker}.txt"), marker);
        }

        var cacheDirectory = Path.Combine(workDirectory, "cache");
        var version = 0;
        string? previousVersion = null;
        string StageVersion(string sourceDirectory)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"..2026_11_28_14_00_00.{++version:D9}");
            Directory.CreateDirectory(Path.Combine(podInfo, name));
            var config = new SidecarConfig
            {
                S3 = new EndpointConfig { Address = "127.0.0.1", Port = 0 },
                Admin = new AdminEndpointConfig { Address = "127.0.0.1", Port = 0, LocalPort = 0 },
                Cache = new CacheConfig { Directory = cacheDirectory, MinFreeBytes = 0 },
                Datasets = [new DatasetConfig { Name = "models", Source = "local://" + sourceDirectory }],
            };
            var json = JsonSerializer.Serialize(config, ContractsJsonContext.Default.SidecarConfig);
            File.WriteAllText(Path.Combine(podInfo, name, "annotations"), $"{Annotations.SidecarConfig}=\"{json.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"\n");
            File.CreateSymbolicLink(Path.Combine(podInfo, "..data_tmp"), name);
            return name;
        }

        void Swap(string name)
        {
            if (Rename(Path.Combine(podInfo, "..data_tmp"), Path.Combine(podInfo, "..data")) != 0)
            {
                throw new IOException($"rename failed: errno {Marshal.GetLastPInvokeError()}");
            }

            if (previousVersion is not null)
            {
                Directory.Delete(Path.Combine(podInfo, previousVersion), recursive: true);
            }

            previousVersion = name;
        }

        Swap(StageVersion(sources[0]));
        File.CreateSymbolicLink(Path.Combine(podInfo, "annotations"), "..data/annotations");

        var load = SidecarConfigLoader.Load([], new Hashtable { [EnvironmentNames.SidecarAnnotationsFile] = Path.Combine(podInfo, "annotations") });
        if (!load.Succeeded)
        {
            Console.Error.WriteLine(string.Join("\n", load.Errors));
            return 2;
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddFluidSidecar(load.Config!, load.Origin, load.Watch! with { UseFileSystemEvents = fileEvents });
        await using var app = builder.Build();
        app.MapFluidSidecar();
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{app.Services.GetRequiredService<SidecarListeners>().S3Port}") };

        // Trial 0 is a warm-up (first switch pays JIT and first-connection costs) and is not reported.
        var latencies = new List<double>();
        for (var trial = 0; trial <= trials; trial++)
        {
            var target = trial % 2;
            var marker = target == 0 ? "a" : "b";
            var staged = StageVersion(sources[target]);
            var stopwatch = Stopwatch.StartNew();
            Swap(staged);
            while (true)
            {
                using var response = await http.GetAsync(new Uri($"/models/marker-{marker}.txt", UriKind.Relative));
                if (response.IsSuccessStatusCode && await response.Content.ReadAsStringAsync() == marker)
                {
                    break;
                }

                if (stopwatch.Elapsed > TimeSpan.FromSeconds(30))
                {
                    Console.Error.WriteLine($"trial {trial}: the new source was not served within 30 s");
                    return 1;
                }

                await Task.Delay(1);
            }

            if (trial > 0)
            {
                latencies.Add(stopwatch.Elapsed.TotalMilliseconds);
            }

            await Task.Delay(250);
        }

        await app.StopAsync();
        latencies.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"events={fileEvents} trials={trials} median_ms={latencies[latencies.Count / 2]:F1} p90_ms={latencies[(int)(latencies.Count * 0.9)]:F1} max_ms={latencies[^1]:F1}"));
        return 0;
    }

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Rename(string from, string to);
}
