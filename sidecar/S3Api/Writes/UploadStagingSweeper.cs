using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.S3Api.Writes;

/// <summary>
/// Runs <see cref="UploadStaging.SweepLeftovers"/> once, in the background after the sidecar serves: start-up does
/// no work that can wait (every pod waits for it), and a sweep that fails (a read-only or vanished directory) only logs.
/// </summary>
internal sealed partial class UploadStagingSweeper(
    UploadStaging staging, IHostApplicationLifetime lifetime, TimeProvider timeProvider, ILogger<UploadStagingSweeper> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() => _ = Task.Run(Sweep, CancellationToken.None));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Sweep()
    {
        try
        {
            var swept = staging.SweepLeftovers(timeProvider.GetUtcNow(), UploadStaging.AbandonedUploadAge);
            if (swept.SpoolFiles + swept.AbandonedUploads > 0)
            {
                Swept(logger, staging.Directory, swept.SpoolFiles, swept.AbandonedUploads, UploadStaging.AbandonedUploadAge.TotalDays);
            }
        }
        catch (IOException e)
        {
            SweepFailed(logger, staging.Directory, e.Message);
        }
        catch (UnauthorizedAccessException e)
        {
            SweepFailed(logger, staging.Directory, e.Message);
        }
    }

    [LoggerMessage(EventId = EventIds.UploadStagingSwept, Level = LogLevel.Information, Message = "Upload staging {Directory}: deleted {SpoolFiles} spool file(s) left by a previous process and {Uploads} multipart upload(s) untouched for {Days} days")]
    private static partial void Swept(ILogger logger, string directory, int spoolFiles, int uploads, double days);

    [LoggerMessage(EventId = EventIds.UploadStagingSweepFailed, Level = LogLevel.Warning, Message = "Upload staging {Directory}: the start-up sweep failed ({Reason}); leftovers stay until the next start")]
    private static partial void SweepFailed(ILogger logger, string directory, string reason);
}
