using System.Globalization;
using System.Security.Cryptography;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>
/// x-amz-request-id (16 upper-case hex digits, like S3's) from a per-process random base plus a counter: unique
/// within the process, unpredictable across processes, no allocation beyond the string. x-amz-id-2 (random base64,
/// as S3's) names the sidecar process that answered, drawn once: the pair names one request, and the hit path
/// spends neither a random fill nor a 48-character string per request on it.
/// </summary>
internal static class RequestIds
{
    private static readonly ulong Base = (ulong)RandomNumberGenerator.GetInt32(int.MaxValue) << 32;
    private static long _sequence = RandomNumberGenerator.GetInt32(int.MaxValue);

    public static string NextRequestId() =>
        (Base ^ (ulong)Interlocked.Increment(ref _sequence)).ToString("X16", CultureInfo.InvariantCulture);

    public static readonly string HostId = NewHostId();

    private static string NewHostId()
    {
        Span<byte> bytes = stackalloc byte[36];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes);
    }
}
