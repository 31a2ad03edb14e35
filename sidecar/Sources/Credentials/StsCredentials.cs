namespace Fluid.Serverless.Sidecar.Sources.Credentials;

/// <summary>Temporary credentials from an STS, with the time they stop working.</summary>
internal sealed record StsCredentials(string AccessKeyId, string SecretAccessKey, string SessionToken, DateTimeOffset Expiration)
{
    // Never print the secret or the token (records print every member by default).
    public override string ToString() => $"access key {AccessKeyId}, expires {Expiration:O}";
}

/// <summary>Exchanges a web-identity token for temporary credentials at one cloud's STS.</summary>
internal interface IStsTokenExchange
{
    Task<StsCredentials> ExchangeAsync(string token, CancellationToken cancellationToken);
}

/// <summary>The STS refused the token or could not be reached; the message names the role and the endpoint.</summary>
internal sealed class StsExchangeException(string message, Exception? inner = null) : Exception(message, inner);
