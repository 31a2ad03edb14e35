using System.Globalization;
using System.Text.Json;

namespace Fluid.Serverless.Sidecar.Sources.Credentials;

/// <summary>
/// Alibaba Cloud STS <c>AssumeRoleWithOIDC</c> (ACK RRSA): an anonymous RPC-style call (the token is the proof, no
/// signature), a JSON answer with <c>Credentials.AccessKeyId/AccessKeySecret/SecurityToken/Expiration</c>. OSS accepts
/// these credentials on its S3-compatible API with the security token as <c>x-amz-security-token</c>. Parsed with
/// <see cref="JsonDocument"/>, which needs no reflection.
/// </summary>
internal sealed class AlibabaOidcExchange(HttpClient http, WebIdentityRole role) : IStsTokenExchange
{
    public async Task<StsCredentials> ExchangeAsync(string token, CancellationToken cancellationToken)
    {
        using var form = new FormUrlEncodedContent(
        [
            new("Action", "AssumeRoleWithOIDC"),
            new("Format", "JSON"),
            new("Version", "2015-04-01"),
            new("Timestamp", DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)),
            new("RoleArn", role.RoleArn),
            new("OIDCProviderArn", role.OidcProviderArn ?? ""),
            new("OIDCToken", token),
            new("RoleSessionName", role.SessionName),
        ]);
        var body = await StsHttp.PostAsync(http, role, form, cancellationToken).ConfigureAwait(false);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.Text);
        }
        catch (JsonException e)
        {
            throw new StsExchangeException(StsHttp.Failure(role, body.Status, null, $"answer is not JSON ({e.Message})"));
        }

        using (document)
        {
            var root = document.RootElement;
            if (!body.Success || root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("Credentials", out var credentials))
            {
                throw new StsExchangeException(StsHttp.Failure(role, body.Status, Text(root, "Code"), Text(root, "Message") ?? "the answer has no Credentials"));
            }

            return new StsCredentials(
                Required(credentials, "AccessKeyId"),
                Required(credentials, "AccessKeySecret"),
                Required(credentials, "SecurityToken"),
                StsHttp.ParseExpiration(Required(credentials, "Expiration"), role));
        }
    }

    private string Required(JsonElement credentials, string name) =>
        Text(credentials, name) is { Length: > 0 } value
            ? value
            : throw new StsExchangeException($"AssumeRoleWithOIDC for {role.RoleArn} at {role.StsEndpoint}: the answer's Credentials have no {name}");

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
