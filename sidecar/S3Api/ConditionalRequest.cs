using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>The result of evaluating preconditions.</summary>
internal enum ConditionOutcome
{
    Proceed,
    NotModified,
    PreconditionFailed,
}

/// <summary>
/// If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since in the order of RFC 7232 §6 (which is also what
/// S3 documents): If-Match decides and If-Unmodified-Since is ignored when If-Match is present; If-None-Match decides
/// and If-Modified-Since is ignored when If-None-Match is present. A failing If-Match/If-Unmodified-Since is 412; a
/// failing If-None-Match/If-Modified-Since on GET/HEAD is 304. Dates compare at one-second resolution (HTTP dates
/// have no fraction); an unparseable date is ignored, as RFC 7232 says.
/// </summary>
internal static class ConditionalRequest
{
    public static ConditionOutcome Evaluate(IHeaderDictionary headers, string etag, DateTimeOffset lastModified, out string? failedCondition)
    {
        failedCondition = null;
        var modified = TruncateToSeconds(lastModified);

        var ifMatch = headers[HeaderNames.IfMatch];
        if (ifMatch.Count > 0)
        {
            if (!MatchesAny(ifMatch, etag))
            {
                failedCondition = "If-Match";
                return ConditionOutcome.PreconditionFailed;
            }
        }
        else if (TryParseDate(headers[HeaderNames.IfUnmodifiedSince], out var unmodifiedSince) && modified > unmodifiedSince)
        {
            failedCondition = "If-Unmodified-Since";
            return ConditionOutcome.PreconditionFailed;
        }

        var ifNoneMatch = headers[HeaderNames.IfNoneMatch];
        if (ifNoneMatch.Count > 0)
        {
            if (MatchesAny(ifNoneMatch, etag))
            {
                return ConditionOutcome.NotModified;
            }
        }
        else if (TryParseDate(headers[HeaderNames.IfModifiedSince], out var modifiedSince) && modified <= modifiedSince)
        {
            return ConditionOutcome.NotModified;
        }

        return ConditionOutcome.Proceed;
    }

    /// <summary>True when a comma-separated entity-tag list holds "*" or the ETag (weak prefix and quotes optional).</summary>
    private static bool MatchesAny(Microsoft.Extensions.Primitives.StringValues values, string etag)
    {
        var bare = Unquote(etag.AsSpan());
        foreach (var value in values)
        {
            if (value is null)
            {
                continue;
            }

            foreach (var range in value.AsSpan().Split(','))
            {
                var candidate = value.AsSpan()[range].Trim();
                if (candidate is "*")
                {
                    return true;
                }

                if (candidate.StartsWith("W/", StringComparison.Ordinal))
                {
                    candidate = candidate[2..];
                }

                if (Unquote(candidate).SequenceEqual(bare))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static ReadOnlySpan<char> Unquote(ReadOnlySpan<char> value) =>
        value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;

    private static bool TryParseDate(Microsoft.Extensions.Primitives.StringValues value, out DateTimeOffset date)
    {
        date = default;
        return value.Count == 1 && HeaderUtilities.TryParseDate(value[0], out date);
    }

    private static DateTimeOffset TruncateToSeconds(DateTimeOffset value) =>
        new(value.Ticks - (value.Ticks % TimeSpan.TicksPerSecond), value.Offset);
}
