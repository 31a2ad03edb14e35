using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Fluid.Serverless.Sidecar.Tests.Configuration;

public sealed class ConfigFileWatcherTests : IDisposable
{
    /// <summary>Only guards against a hung suite; every assertion is on state, never on elapsed time.</summary>
    private static readonly TimeSpan SafetyTimeout = TimeSpan.FromSeconds(30);

    private readonly KubeletProjectedDirectory _podInfo = new();

    public void Dispose() => _podInfo.Dispose();

    [Fact]
    public async Task SymlinkSwap_PollAlone_SeesChangeOnNextOneSecondTick()
    {
        _podInfo.WriteConfig(Config("alpha"));
        var time = new FakeTimeProvider();
        using var watcher = NewWatcher(time, useEvents: false, poll: TimeSpan.FromSeconds(1));
        var changed = new TaskCompletionSource<SidecarConfig>(TaskCreationOptions.RunContinuationsAsynchronously);
        watcher.ConfigChanged += c => changed.TrySetResult(c);
        await watcher.StartAsync(CancellationToken.None);
        Assert.Equal("alpha", Assert.Single(watcher.Current!.Datasets).Name);

        _podInfo.WriteConfig(Config("beta"));
        time.Advance(TimeSpan.FromSeconds(1)); // one poll interval: the change must be found by this tick alone

        var config = await changed.Task.WaitAsync(SafetyTimeout);
        Assert.Equal("beta", Assert.Single(config.Datasets).Name);
        Assert.Equal(2, watcher.Status.Generation);
        Assert.Equal(time.GetUtcNow(), watcher.Status.LastAppliedTime);
        await watcher.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task SymlinkSwap_FileEventsAlone_SeeChange()
    {
        _podInfo.WriteConfig(Config("alpha"));
        // An hour-long poll: only the directory event can explain seeing the change.
        using var watcher = NewWatcher(TimeProvider.System, useEvents: true, poll: TimeSpan.FromHours(1));
        var changed = new TaskCompletionSource<SidecarConfig>(TaskCreationOptions.RunContinuationsAsynchronously);
        watcher.ConfigChanged += c => changed.TrySetResult(c);
        await watcher.StartAsync(CancellationToken.None);

        _podInfo.WriteConfig(Config("beta"));

        var config = await changed.Task.WaitAsync(SafetyTimeout);
        Assert.Equal("beta", Assert.Single(config.Datasets).Name);
        await watcher.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task InvalidConfig_KeepsOldRecordsErrorCountsOnce()
    {
        _podInfo.WriteConfig(Config("alpha"));
        using var watcher = NewWatcher(TimeProvider.System);
        var raised = 0;
        watcher.ConfigChanged += _ => raised++;
        Assert.True(watcher.TryLoadInitial(out _, out _));

        _podInfo.WriteConfig(Config("Not_A_Bucket"));
        await watcher.CheckAsync(CancellationToken.None);
        await watcher.CheckAsync(CancellationToken.None); // same bad content: not a second failure

        Assert.Equal(0, raised);
        Assert.Equal("alpha", Assert.Single(watcher.Current!.Datasets).Name);
        var status = watcher.Status;
        Assert.Equal(1, status.Generation);
        Assert.Equal(1, status.ReloadFailures);
        Assert.Contains("datasets[0].name: 'Not_A_Bucket'", status.LastError, StringComparison.Ordinal);
        Assert.NotNull(status.LastErrorTime);

        _podInfo.WriteConfig(Config("gamma"));
        await watcher.CheckAsync(CancellationToken.None);
        Assert.Equal(1, raised);
        Assert.Equal(2, watcher.Status.Generation);
        Assert.Equal("gamma", Assert.Single(watcher.Current!.Datasets).Name);
    }

    [Theory]
    [InlineData("serverless.fluid.io/sidecar-config=\"{not json\"\n", "not a valid sidecar config")]
    [InlineData("serverless.fluid.io/sidecar-config={}\n", "malformed")]
    [InlineData("other=\"x\"\n", "has no 'serverless.fluid.io/sidecar-config'")]
    public async Task UnparsableFile_KeepsOldAndSaysWhy(string fileText, string expected)
    {
        _podInfo.WriteConfig(Config("alpha"));
        using var watcher = NewWatcher(TimeProvider.System);
        Assert.True(watcher.TryLoadInitial(out _, out _));

        _podInfo.WriteRaw(fileText);
        await watcher.CheckAsync(CancellationToken.None);

        Assert.Equal("alpha", Assert.Single(watcher.Current!.Datasets).Name);
        Assert.Contains(expected, watcher.Status.LastError, StringComparison.Ordinal);
        Assert.Equal(1, watcher.Status.ReloadFailures);
    }

    [Fact]
    public async Task ExplicitNullSection_RejectedNotCrashing()
    {
        _podInfo.WriteConfig(Config("alpha"));
        using var watcher = NewWatcher(TimeProvider.System);
        Assert.True(watcher.TryLoadInitial(out _, out _));

        _podInfo.WriteRaw("serverless.fluid.io/sidecar-config=\"{\\\"s3\\\": null}\"\n");
        await watcher.CheckAsync(CancellationToken.None);

        Assert.Equal("alpha", Assert.Single(watcher.Current!.Datasets).Name);
        Assert.StartsWith("config is invalid", watcher.Status.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HandlerThrows_ConfigRejectedOldKept()
    {
        _podInfo.WriteConfig(Config("alpha"));
        using var watcher = NewWatcher(TimeProvider.System);
        watcher.ConfigChanged += _ => throw new InvalidOperationException("dataset 'beta': unsupported scheme 'ftp'");
        Assert.True(watcher.TryLoadInitial(out _, out _));

        _podInfo.WriteConfig(Config("beta"));
        await watcher.CheckAsync(CancellationToken.None);

        Assert.Equal("alpha", Assert.Single(watcher.Current!.Datasets).Name);
        Assert.Equal(1, watcher.Status.Generation);
        Assert.Contains("could not be applied: dataset 'beta': unsupported scheme 'ftp'", watcher.Status.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OtherAnnotationChanges_NoReload()
    {
        _podInfo.WriteConfig(Config("alpha"), otherAnnotation: "1");
        using var watcher = NewWatcher(TimeProvider.System);
        var raised = 0;
        watcher.ConfigChanged += _ => raised++;
        Assert.True(watcher.TryLoadInitial(out _, out _));

        _podInfo.WriteConfig(Config("alpha"), otherAnnotation: "2");
        await watcher.CheckAsync(CancellationToken.None);

        Assert.Equal(0, raised);
        Assert.Equal(0, watcher.Status.Reloads);
    }

    [Fact]
    public async Task JsonFile_RewrittenInPlace_Reloads()
    {
        var path = Path.Combine(_podInfo.Root, "sidecar.json");
        await File.WriteAllTextAsync(path, """{"datasets": [{"name": "alpha", "source": "local:///a"}]}""");
        using var watcher = new ConfigFileWatcher(
            new ConfigFileWatcherOptions { Path = path, Kind = ConfigFileKind.Json },
            ConfigValidator.Validate,
            TimeProvider.System,
            NullLogger<ConfigFileWatcher>.Instance);
        Assert.True(watcher.TryLoadInitial(out _, out var error), error);

        await File.WriteAllTextAsync(path, """{"datasets": [{"name": "beta", "source": "local:///b"}], "prefetch": {"workers": 2}}""");
        await watcher.CheckAsync(CancellationToken.None);

        Assert.Equal("beta", Assert.Single(watcher.Current!.Datasets).Name);
        Assert.Equal(2, watcher.Current.Prefetch.Workers);
    }

    [Fact]
    public async Task StartWithInvalidFile_LaterValidFileApplies()
    {
        _podInfo.WriteRaw("other=\"x\"\n");
        using var watcher = NewWatcher(TimeProvider.System);
        var changed = 0;
        watcher.ConfigChanged += _ => changed++;
        Assert.False(watcher.TryLoadInitial(out _, out var error));
        Assert.Contains("has no", error, StringComparison.Ordinal);

        _podInfo.WriteConfig(Config("alpha"));
        await watcher.CheckAsync(CancellationToken.None);

        Assert.Equal(1, changed);
        Assert.Equal("alpha", Assert.Single(watcher.Current!.Datasets).Name);
    }

    [Fact]
    public async Task Dispose_Twice_NoError()
    {
        _podInfo.WriteConfig(Config("alpha"));
        var watcher = NewWatcher(TimeProvider.System, useEvents: true);
        await watcher.StartAsync(CancellationToken.None);
        await watcher.StopAsync(CancellationToken.None);

        watcher.Dispose();
        watcher.Dispose();

        Assert.Equal("alpha", Assert.Single(watcher.Current!.Datasets).Name);
    }

    internal static SidecarConfig Config(string datasetName, string source = "local:///data", params string[] prefetch) =>
        new() { Datasets = [new DatasetConfig { Name = datasetName, Source = source, Prefetch = prefetch }] };

    private ConfigFileWatcher NewWatcher(TimeProvider time, bool useEvents = false, TimeSpan? poll = null) =>
        new(
            new ConfigFileWatcherOptions { Path = _podInfo.AnnotationsPath, Kind = ConfigFileKind.Annotations, UseFileSystemEvents = useEvents, PollInterval = poll ?? TimeSpan.FromHours(1) },
            ConfigValidator.Validate,
            time,
            NullLogger<ConfigFileWatcher>.Instance);
}
