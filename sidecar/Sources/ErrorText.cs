using System.Net.Http;
using System.Net.Sockets;
using System.Text.Json;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Plain sentences for the exceptions users meet most (a config file that is missing, unreadable or malformed; a
/// remote that cannot be reached). The sidecar is built with <c>UseSystemResourceKeys</c>, which keeps the runtime's
/// message resources out of the binary (footprint) and leaves exceptions with resource keys such as
/// <c>IO_FileNotFound_FileName</c>; these sentences are the sidecar's own. Anything else keeps its message.
/// </summary>
internal static class ErrorText
{
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (DescribeNetwork(e) is { } network)
            {
                return network;
            }
        }

        return exception switch
        {
            FileNotFoundException => "no such file",
            DirectoryNotFoundException => "a directory on the path does not exist",
            PathTooLongException => "the path is too long",
            UnauthorizedAccessException => "permission denied (or the path is a directory)",
            EndOfStreamException => "the data ended early",
            JsonException json when UsesResourceKeys => DescribeJson(json),
            TimeoutException => "it timed out",
            IOException io when io.HResult is 28 or 122 => "no space left on the device (or the quota is used up)",
            _ => exception.Message,
        };
    }

    /// <summary>True where the runtime's messages are resource keys (the published sidecar), not sentences.</summary>
    private static bool UsesResourceKeys => AppContext.TryGetSwitch("System.Resources.UseSystemResourceKeys", out var enabled) && enabled;

    private static string? DescribeNetwork(Exception e) => e switch
    {
        SocketException socket => DescribeSocket(socket.SocketErrorCode),
        HttpRequestException { InnerException: SocketException socket } => DescribeSocket(socket.SocketErrorCode),
        HttpRequestException http => http.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "the remote's host name does not resolve",
            HttpRequestError.ConnectionError => "the connection to the remote failed",
            HttpRequestError.SecureConnectionError => "the TLS handshake with the remote failed (certificate or protocol)",
            HttpRequestError.ResponseEnded => "the remote closed the connection before its answer was complete",
            HttpRequestError.InvalidResponse => "the remote's answer is not valid HTTP",
            HttpRequestError.ProxyTunnelError => "the HTTP proxy refused the connection",
            _ => null,
        },
        _ => null,
    };

    private static string DescribeSocket(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "connection refused (nothing listens at the remote's address and port)",
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "the remote's host name does not resolve",
        SocketError.TimedOut => "the connection to the remote timed out",
        SocketError.NetworkUnreachable or SocketError.HostUnreachable => "the remote's network is unreachable",
        SocketError.ConnectionReset => "the remote reset the connection",
        SocketError.AccessDenied => "the connection was denied (a firewall or network policy?)",
        _ => $"the connection to the remote failed ({error})",
    };

    private static string DescribeJson(JsonException json)
    {
        var where = json.LineNumber is { } line
            ? $" at line {line + 1}, byte {(json.BytePositionInLine ?? 0) + 1}"
            : "";
        var path = string.IsNullOrEmpty(json.Path) || json.Path == "$" ? "" : $" (JSON path {json.Path})";
        return $"not valid JSON for the sidecar config{where}{path}: a syntax error, or a value of the wrong type";
    }
}
