using System.Globalization;
using System.Xml;

namespace Fluid.Serverless.Sidecar.Sources.Credentials;

/// <summary>
/// AWS STS <c>AssumeRoleWithWebIdentity</c> (EKS IRSA): an unsigned form POST with the token, an XML answer with the
/// credentials. Done here rather than by the SDK's web-identity provider because that one loads AWSSDK.SecurityToken by
/// reflection (not Native-AOT safe) and cannot be pointed at a test STS per client.
/// </summary>
internal sealed class AwsWebIdentityExchange(HttpClient http, WebIdentityRole role) : IStsTokenExchange
{
    public async Task<StsCredentials> ExchangeAsync(string token, CancellationToken cancellationToken)
    {
        using var form = new FormUrlEncodedContent(
        [
            new("Action", "AssumeRoleWithWebIdentity"),
            new("Version", "2011-06-15"),
            new("RoleArn", role.RoleArn),
            new("RoleSessionName", role.SessionName),
            new("WebIdentityToken", token),
        ]);
        var body = await StsHttp.PostAsync(http, role, form, cancellationToken).ConfigureAwait(false);
        var fields = ReadFields(body.Text);
        if (!body.Success)
        {
            throw new StsExchangeException(StsHttp.Failure(role, body.Status, fields.GetValueOrDefault("Code"), fields.GetValueOrDefault("Message")));
        }

        return new StsCredentials(
            Required(fields, "AccessKeyId", role),
            Required(fields, "SecretAccessKey", role),
            Required(fields, "SessionToken", role),
            StsHttp.ParseExpiration(Required(fields, "Expiration", role), role));
    }

    /// <summary>The leaf elements the answer has (credentials, or an error's Code and Message), by local name.</summary>
    private static Dictionary<string, string> ReadFields(string xml)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            reader.MoveToContent();
            while (!reader.EOF)
            {
                if (reader.NodeType == XmlNodeType.Element && reader.LocalName is "AccessKeyId" or "SecretAccessKey" or "SessionToken" or "Expiration" or "Code" or "Message")
                {
                    // Reads the text and moves past the end tag, onto the next node: no Read() after it.
                    var name = reader.LocalName;
                    fields[name] = reader.ReadElementContentAsString();
                }
                else
                {
                    reader.Read();
                }
            }
        }
        catch (XmlException e)
        {
            fields["Message"] = string.Create(CultureInfo.InvariantCulture, $"answer is not XML ({e.Message})");
        }

        return fields;
    }

    private static string Required(Dictionary<string, string> fields, string name, WebIdentityRole role) =>
        fields.TryGetValue(name, out var value) && value.Length > 0
            ? value
            : throw new StsExchangeException($"AssumeRoleWithWebIdentity for {role.RoleArn} at {role.StsEndpoint}: the answer has no {name}");
}
