using System.Globalization;
using System.Net;

namespace Fluid.Serverless.Sidecar.Sources.Credentials;

/// <summary>What both STS calls share: the POST, the failure message and the expiration format.</summary>
internal static class StsHttp
{
    /// <summary>Answers are small; a bigger one is not an STS.</summary>
    private const int MaxAnswerBytes = 64 * 1024;

    public static async Task<(bool Success, HttpStatusCode Status, string Text)> PostAsync(HttpClient http, WebIdentityRole role, HttpContent form, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.PostAsync(role.StsEndpoint, form, cancellationToken).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            var text = System.Text.Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, MaxAnswerBytes));
            return (response.IsSuccessStatusCode, response.StatusCode, text);
        }
        catch (HttpRequestException e)
        {
            throw new StsExchangeException($"{Operation(role)} for {role.RoleArn} at {role.StsEndpoint} failed: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StsExchangeException($"{Operation(role)} for {role.RoleArn} at {role.StsEndpoint} timed out", e);
        }
    }

    public static string Failure(WebIdentityRole role, HttpStatusCode status, string? code, string? message) =>
        string.Create(CultureInfo.InvariantCulture, $"{Operation(role)} for {role.RoleArn} at {role.StsEndpoint} failed: HTTP {(int)status} {code ?? status.ToString()}: {message ?? "(no message)"}");

    public static DateTimeOffset ParseExpiration(string text, WebIdentityRole role) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var expiration)
            ? expiration
            : throw new StsExchangeException($"{Operation(role)} for {role.RoleArn} at {role.StsEndpoint}: Expiration '{text}' is not a time");

    public static string Operation(WebIdentityRole role) => role.Kind == WebIdentityKind.AwsIrsa ? "AssumeRoleWithWebIdentity" : "AssumeRoleWithOIDC";
}
