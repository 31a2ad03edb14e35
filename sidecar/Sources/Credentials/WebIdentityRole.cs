using System.Collections;

namespace Fluid.Serverless.Sidecar.Sources.Credentials;

/// <summary>Which cloud's STS exchanges the pod's service-account token for credentials.</summary>
internal enum WebIdentityKind
{
    /// <summary>EKS IRSA: AWS STS AssumeRoleWithWebIdentity.</summary>
    AwsIrsa,

    /// <summary>ACK RRSA: Alibaba Cloud STS AssumeRoleWithOIDC.</summary>
    AlibabaRrsa,
}

/// <summary>
/// A role to assume with the pod's projected service-account token, as the clouds' pod-identity webhooks describe it
/// in the environment (EKS: AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE; ACK: ALIBABA_CLOUD_ROLE_ARN,
/// ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE). The injector copies these variables and the token
/// volume from the app container into the sidecar. A value, so datasets with the same role share one S3 client.
/// </summary>
internal sealed record WebIdentityRole(
    WebIdentityKind Kind,
    string RoleArn,
    string TokenFile,
    Uri StsEndpoint,
    string SessionName,
    string? OidcProviderArn = null)
{
    public const string AwsRoleArn = "AWS_ROLE_ARN";
    public const string AwsTokenFile = "AWS_WEB_IDENTITY_TOKEN_FILE";
    public const string AwsSessionName = "AWS_ROLE_SESSION_NAME";

    /// <summary>The AWS SDKs' service-specific endpoint override (e.g. a VPC endpoint, or a test server).</summary>
    public const string AwsStsEndpoint = "AWS_ENDPOINT_URL_STS";

    public const string AlibabaRoleArn = "ALIBABA_CLOUD_ROLE_ARN";
    public const string AlibabaProviderArn = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN";
    public const string AlibabaTokenFile = "ALIBABA_CLOUD_OIDC_TOKEN_FILE";
    public const string AlibabaSessionName = "ALIBABA_CLOUD_ROLE_SESSION_NAME";

    /// <summary>The Alibaba Cloud credentials libraries' endpoint override (e.g. sts-vpc.cn-hangzhou.aliyuncs.com).</summary>
    public const string AlibabaStsEndpoint = "ALIBABA_CLOUD_STS_ENDPOINT";

    private const string DefaultSessionName = "fluid-serverless-sidecar";

    /// <summary>IRSA from the environment, or null when AWS_ROLE_ARN or AWS_WEB_IDENTITY_TOKEN_FILE is unset.</summary>
    public static WebIdentityRole? FromAwsEnvironment(IDictionary environment, string? region)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (Read(environment, AwsRoleArn) is not { } role || Read(environment, AwsTokenFile) is not { } tokenFile)
        {
            return null;
        }

        // Regional STS is what the SDKs default to now; the global endpoint only when no region is known.
        region = Read(environment, "AWS_REGION") ?? Read(environment, "AWS_DEFAULT_REGION") ?? region;
        var endpoint = Read(environment, AwsStsEndpoint)
            ?? (region is null ? "https://sts.amazonaws.com" : $"https://sts.{region}.amazonaws.com");
        return new WebIdentityRole(WebIdentityKind.AwsIrsa, role, tokenFile, ParseEndpoint(endpoint, AwsStsEndpoint), Read(environment, AwsSessionName) ?? DefaultSessionName);
    }

    /// <summary>RRSA from the environment, or null unless all three ALIBABA_CLOUD_* variables are set.</summary>
    public static WebIdentityRole? FromAlibabaEnvironment(IDictionary environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (Read(environment, AlibabaRoleArn) is not { } role
            || Read(environment, AlibabaProviderArn) is not { } provider
            || Read(environment, AlibabaTokenFile) is not { } tokenFile)
        {
            return null;
        }

        var endpoint = Read(environment, AlibabaStsEndpoint) ?? "https://sts.aliyuncs.com";
        return new WebIdentityRole(WebIdentityKind.AlibabaRrsa, role, tokenFile, ParseEndpoint(endpoint, AlibabaStsEndpoint), Read(environment, AlibabaSessionName) ?? DefaultSessionName, provider);
    }

    public override string ToString() => $"{(Kind == WebIdentityKind.AwsIrsa ? "IRSA" : "RRSA")} role {RoleArn}";

    /// <summary>A bare host (as the Alibaba libraries accept) means https.</summary>
    private static Uri ParseEndpoint(string text, string variable)
    {
        var withScheme = text.Contains("://", StringComparison.Ordinal) ? text : "https://" + text;
        return Uri.TryCreate(withScheme, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
            ? uri
            : throw new ArgumentException($"environment variable {variable} '{text}' is not an STS endpoint: expected https://host[:port] or a host name");
    }

    private static string? Read(IDictionary environment, string name) => environment[name] is string { Length: > 0 } value ? value : null;
}
