using System.Collections;
using System.Globalization;
using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Cache.SharedTier;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Prefetch;
using Microsoft.AspNetCore.Builder;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>
/// <c>fluid-sidecar warm [--config FILE]</c>: a one-shot warm-up of the shared cache tier, what a DataLoad's Job runs.
/// It reads the sidecar config like the sidecar (same sources, same validation), starts the sidecar with its endpoints
/// on loopback only, waits until the tier is reachable, warms every dataset's <c>prefetch</c> list through the normal
/// read path (so each block fetched from the remote is written to the tier), waits until every queued tier write is
/// done, and exits: 0 when every file was warmed and every block written, 1 when a file failed, the tier was not
/// reachable or a write was dropped, 2 for a config it cannot run. A progress line per dataset goes to stdout every
/// few seconds (the Job's log).
/// </summary>
internal static class WarmCommand
{
    public const string Name = "warm";
    private static readonly TimeSpan TierTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan WritesTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan DefaultProgressInterval = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(IReadOnlyList<string> args, IDictionary environment, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var interval = DefaultProgressInterval;
        var configArgs = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--progress-seconds" && i + 1 < args.Count)
            {
                if (!double.TryParse(args[++i], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds > 0))
                {
                    await error.WriteLineAsync($"fluid-sidecar warm: --progress-seconds '{args[i]}' is not a number of seconds: expected a positive number, e.g. --progress-seconds 5");
                    return 2;
                }

                interval = TimeSpan.FromSeconds(seconds);
            }
            else
            {
                configArgs.Add(args[i]);
            }
        }

        var load = SidecarConfigLoader.Load(configArgs, environment);
        if (!load.Succeeded)
        {
            return SidecarHostingExtensions.ReportConfigErrors(load);
        }

        var config = load.Config!;
        if (config.SharedCache is null)
        {
            await error.WriteLineAsync($"fluid-sidecar warm: the config from {load.Origin} has no sharedCache section: a warm-up fills the shared cache tier (without one it would warm a cache that ends with this process)");
            return 2;
        }

        var targets = config.Datasets.Where(d => d.Prefetch.Count > 0).ToList();
        if (targets.Count == 0)
        {
            await error.WriteLineAsync($"fluid-sidecar warm: no dataset in the config from {load.Origin} has a prefetch list: nothing to warm");
            return 2;
        }

        // loopback only (a Job pod needs no reachable port); prefetch lists are started below, once the tier is reachable
        var serving = config with
        {
            S3 = config.S3 with { Address = SidecarDefaults.AdminLocalAddress },
            Admin = config.Admin with { Address = SidecarDefaults.AdminLocalAddress },
            Prefetch = config.Prefetch with { WaitForReady = false },
            Datasets = [.. config.Datasets.Select(d => d with { Prefetch = [] })],
        };
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.AddFluidSidecar(serving, load.Origin);
        await using var app = builder.Build();
        app.MapFluidSidecar();
        try
        {
            await app.StartAsync();
        }
        catch (Exception e) when (e is SidecarStartupException or IOException)
        {
            await error.WriteLineAsync("fluid-sidecar warm: " + e.Message);
            return 2;
        }

        try
        {
            return await WarmAsync(app.Services, targets, interval, output, error);
        }
        finally
        {
            await app.StopAsync();
        }
    }

    private static async Task<int> WarmAsync(IServiceProvider services, IReadOnlyList<DatasetConfig> targets, TimeSpan interval, TextWriter output, TextWriter error)
    {
        var tier = services.GetRequiredService<ISharedBlockTier>();
        var manager = services.GetRequiredService<PrefetchManager>();
        var registry = services.GetRequiredService<IDatasetRegistry>();

        // a write queued before the engine is connected would be dropped
        var waited = TimeSpan.Zero;
        while (!tier.GetStatus().Connected)
        {
            if (waited >= TierTimeout)
            {
                await error.WriteLineAsync($"fluid-sidecar warm: the shared cache tier ({tier.GetStatus().Engine}) was not reachable within {TierTimeout.TotalSeconds:0} s");
                return 1;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100));
            waited += TimeSpan.FromMilliseconds(100);
        }

        var droppedBefore = tier.GetStatus().Counters.DroppedWrites;
        var jobs = new List<PrefetchJob>();
        foreach (var target in targets)
        {
            if (!registry.Current.TryGet(target.Name, out var dataset))
            {
                await error.WriteLineAsync($"fluid-sidecar warm: dataset '{target.Name}' did not start");
                return 1;
            }

            if (!PrefetchEntry.TryParseAll(target.Prefetch, out var entries, out var entryError))
            {
                await error.WriteLineAsync($"fluid-sidecar warm: dataset '{target.Name}': {entryError}");
                return 2;
            }

            jobs.Add(manager.StartAdminJob(dataset, entries));
            await output.WriteLineAsync($"warm: dataset '{target.Name}': warming {string.Join(", ", target.Prefetch)}");
        }

        var all = Task.WhenAll(jobs.Select(j => j.Completion));
        while (await Task.WhenAny(all, Task.Delay(interval)) != all)
        {
            foreach (var job in jobs)
            {
                await output.WriteLineAsync(Line(job.GetProgress()));
            }
        }

        // the last blocks are still queued for the tier: the tier is full only when they are written
        var writesWaited = TimeSpan.Zero;
        while (tier.GetStatus().Counters.PendingWrites > 0 && writesWaited < WritesTimeout)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50));
            writesWaited += TimeSpan.FromMilliseconds(50);
        }

        var ok = true;
        foreach (var job in jobs)
        {
            var progress = job.GetProgress();
            await output.WriteLineAsync(Line(progress));
            if (progress.Phase != PrefetchPhase.Complete)
            {
                ok = false;
                foreach (var failure in progress.FailedFiles)
                {
                    await error.WriteLineAsync($"fluid-sidecar warm: dataset '{progress.Dataset}': {failure.Key}: {failure.Error}");
                }

                await error.WriteLineAsync($"fluid-sidecar warm: dataset '{progress.Dataset}' is {progress.Phase}: {progress.Message}");
            }
        }

        var counters = tier.GetStatus().Counters;
        var dropped = counters.DroppedWrites - droppedBefore;
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"warm: shared tier: {counters.Fills} blocks ({counters.BytesWritten} bytes) written, {counters.Hits} already there, {dropped} dropped, {counters.PendingWrites} still queued, {counters.Errors} errors"));
        if (dropped > 0 || counters.PendingWrites > 0)
        {
            ok = false;
            await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"fluid-sidecar warm: {dropped + counters.PendingWrites} block(s) did not reach the shared cache tier (write queue full, tier slow or breaker open): raise sharedCache.maxPendingWrites or timeoutMilliseconds, lower prefetch.workers, and run the DataLoad again"));
        }

        await output.WriteLineAsync(ok ? "warm: complete" : "warm: failed");
        return ok ? 0 : 1;
    }

    private static string Line(PrefetchProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"warm: dataset '{p.Dataset}': {p.Phase}, {p.FilesDone}/{p.FilesTotal}{(p.TotalsFinal ? "" : "+")} files, {p.BytesDone}/{p.BytesTotal} bytes ({p.BytesFetched} from the remote), {p.FilesFailed} failed");
}
