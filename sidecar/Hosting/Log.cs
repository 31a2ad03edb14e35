using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Hosting;

/// <summary>Source-generated log messages of the hosting layer.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = EventIds.ConfigLoaded, Level = LogLevel.Information, Message = "Sidecar config from {Origin}: {DatasetCount} dataset(s)")]
    public static partial void ConfigLoaded(ILogger logger, string origin, int datasetCount);

    [LoggerMessage(EventId = EventIds.Listening, Level = LogLevel.Information, Message = "S3 endpoint on http://{S3Address}:{S3Port}, probes and metrics on http://{AdminAddress}:{AdminPort}, admin API on http://127.0.0.1:{AdminLocalPort}")]
    public static partial void Listening(ILogger logger, string s3Address, int s3Port, string adminAddress, int adminPort, int adminLocalPort);

    [LoggerMessage(EventId = EventIds.StartFailed, Level = LogLevel.Critical, Message = "Sidecar cannot start: {Reason}")]
    public static partial void StartFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.ShutdownTimedOut, Level = LogLevel.Warning, Message = "Shutdown timeout ({TimeoutMs} ms) expired: requests still in flight were cut")]
    public static partial void ShutdownTimedOut(ILogger logger, double timeoutMs);
}
