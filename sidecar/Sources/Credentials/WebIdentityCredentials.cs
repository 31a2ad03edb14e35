using Amazon.Runtime;

namespace Fluid.Serverless.Sidecar.Sources.Credentials;

/// <summary>
/// AWS SDK credentials from a web-identity token: read the projected token file, exchange it at the STS, keep the
/// answer and exchange again before it expires. The token file is read on every exchange because the kubelet rotates
/// it (a projected token lives about an hour). Refresh starts when a fifth of the lifetime is left, but at least five
/// minutes before expiry (at most half the lifetime, for short-lived test credentials); a failed refresh keeps using
/// credentials that have not expired yet, so an STS hiccup does not fail reads.
/// </summary>
internal sealed class WebIdentityCredentials(WebIdentityRole role, IStsTokenExchange exchange, TimeProvider time) : AWSCredentials
{
    private static readonly TimeSpan MinimumMargin = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim _refresh = new(1, 1);
    private volatile Cached? _current;

    public WebIdentityRole Role => role;

    public override ImmutableCredentials GetCredentials() => GetCredentialsAsync().GetAwaiter().GetResult();

    public override async Task<ImmutableCredentials> GetCredentialsAsync()
    {
        if (_current is { } fresh && time.GetUtcNow() < fresh.RefreshAt)
        {
            return fresh.Credentials;
        }

        await _refresh.WaitAsync().ConfigureAwait(false);
        try
        {
            var current = _current;
            var now = time.GetUtcNow();
            if (current is not null && now < current.RefreshAt)
            {
                return current.Credentials;
            }

            try
            {
                var obtained = await exchange.ExchangeAsync(ReadToken(), CancellationToken.None).ConfigureAwait(false);
                var next = new Cached(new ImmutableCredentials(obtained.AccessKeyId, obtained.SecretAccessKey, obtained.SessionToken), RefreshTime(now, obtained.Expiration), obtained.Expiration);
                _current = next;
                return next.Credentials;
            }
            catch (StsExchangeException) when (current is not null && now < current.Expiration)
            {
                return current.Credentials;
            }
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary>When to exchange again: a fifth of the lifetime before expiry, at least 5 minutes, at most half.</summary>
    internal static DateTimeOffset RefreshTime(DateTimeOffset obtained, DateTimeOffset expiration)
    {
        var lifetime = expiration - obtained;
        if (lifetime <= TimeSpan.Zero)
        {
            return obtained;
        }

        var margin = TimeSpan.FromTicks(Math.Min(Math.Max(lifetime.Ticks / 5, MinimumMargin.Ticks), lifetime.Ticks / 2));
        return expiration - margin;
    }

    private string ReadToken()
    {
        string token;
        try
        {
            token = File.ReadAllText(role.TokenFile).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StsExchangeException($"{role}: the web identity token file '{role.TokenFile}' cannot be read ({e.Message}); is the projected service-account token mounted into the sidecar?", e);
        }

        return token.Length > 0
            ? token
            : throw new StsExchangeException($"{role}: the web identity token file '{role.TokenFile}' is empty");
    }

    private sealed record Cached(ImmutableCredentials Credentials, DateTimeOffset RefreshAt, DateTimeOffset Expiration);
}
