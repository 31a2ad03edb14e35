using System.Net.Http.Headers;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>Plain HTTP against the sidecar's S3 endpoint (path-style), for tests that look at status codes and headers.</summary>
public static class S3Http
{
    /// <summary>http://endpoint/bucket/key with every key segment percent-encoded as SDKs do.</summary>
    public static Uri ObjectUri(Uri endpoint, string bucket, string key) =>
        new(endpoint, $"/{bucket}/{string.Join('/', key.Split('/').Select(Uri.EscapeDataString))}");

    public static HttpClient CreateClient() => new() { Timeout = TimeSpan.FromMinutes(3) };

    public static async Task<HttpResponseMessage> GetAsync(HttpClient http, Uri endpoint, string bucket, string key, long? first = null, long? last = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, ObjectUri(endpoint, bucket, key));
        if (first is not null)
        {
            request.Headers.Range = new RangeHeaderValue(first, last);
        }

        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>SHA-256 of the whole object as served, asserting a 200.</summary>
    public static async Task<string> Sha256OfObjectAsync(HttpClient http, Uri endpoint, string bucket, string key)
    {
        using var response = await GetAsync(http, endpoint, bucket, key);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {bucket}/{key} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        await using var body = await response.Content.ReadAsStreamAsync();
        return await Sha256Hex.OfStreamAsync(body);
    }
}
