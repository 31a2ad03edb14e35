using System.Net;
using System.Xml.Linq;
using Fluid.Serverless.Sidecar.Tests.Hosting;

namespace Fluid.Serverless.Sidecar.Tests.S3Api;

/// <summary>Small helpers to read S3 responses the way a user would check them.</summary>
internal static class S3TestHelpers
{
    public static readonly XNamespace S3 = "http://s3.amazonaws.com/doc/2006-03-01/";

    public static async Task<HttpResponseMessage> SendAsync(this HttpClient client, HttpMethod method, string pathAndQuery, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery);
        configure?.Invoke(request);
        return await client.SendAsync(request);
    }

    public static string? Header(this HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values)
        : response.Content.Headers.TryGetValues(name, out var contentValues) ? string.Join(",", contentValues)
        : null;

    /// <summary>Asserts an S3 error document with the code and RequestId equal to the x-amz-request-id header.</summary>
    public static async Task<XElement> AssertS3ErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        var error = XDocument.Parse(body).Root!;
        Assert.Equal("Error", error.Name.LocalName);
        Assert.Equal(code, error.Element("Code")?.Value);
        Assert.False(string.IsNullOrEmpty(error.Element("Message")?.Value));
        var requestId = response.Header("x-amz-request-id");
        Assert.False(string.IsNullOrEmpty(requestId));
        Assert.Equal(requestId, error.Element("RequestId")?.Value);
        Assert.False(string.IsNullOrEmpty(response.Header("x-amz-id-2")));
        return error;
    }

    public static string Sha(byte[] bytes) => TestSidecar.Sha256(bytes);
}
