using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Polly.Timeout;

namespace Fluid.Serverless.Sidecar.Resilience;

/// <summary>
/// Which failures are worth retrying (and count against the circuit breaker): the remote or the path to it is
/// briefly unwell. A 4xx answer, a changed or missing object, or a bad argument is final: retrying cannot help.
/// </summary>
internal static class TransientFailures
{
    public static bool IsTransient(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case TimeoutRejectedException:
                    return true;
                case InvalidDataException:
                    // A malformed answer (bad listing file, wrong Content-Range) stays malformed when asked again.
                    return false;
                case AmazonServiceException service when service.StatusCode != 0:
                    return IsTransientStatus(service.StatusCode) || service.ErrorCode is "SlowDown" or "RequestTimeout" or "InternalError" or "ServiceUnavailable";
                case HttpRequestException http:
                    // No status code: the request never got an answer (refused, reset, DNS, TLS).
                    return http.StatusCode is not { } status || IsTransientStatus(status);
                case SocketException or IOException:
                    // Resets, truncated bodies, EIO from an NFS mount.
                    return true;
            }
        }

        return false;
    }

    private static bool IsTransientStatus(HttpStatusCode status) =>
        (int)status >= 500 || status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests;
}
