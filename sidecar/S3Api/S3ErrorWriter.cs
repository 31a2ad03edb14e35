using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>
/// Writes <c>&lt;Error&gt;&lt;Code/&gt;&lt;Message/&gt;&lt;Key|BucketName/&gt;&lt;RequestId/&gt;&lt;/Error&gt;</c> with RequestId equal to the
/// x-amz-request-id header already set on the response. HEAD requests get the status and headers only.
/// </summary>
internal static class S3ErrorWriter
{
    public static async Task WriteAsync(HttpContext context, S3Error error, string requestId)
    {
        var response = context.Response;
        response.StatusCode = error.Status;
        if (error.ContentRange is not null)
        {
            response.Headers[HeaderNames.ContentRange] = error.ContentRange;
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        using var xml = new S3XmlWriter(1024);
        xml.Start("Error"u8);
        xml.Element("Code"u8, error.Code);
        xml.Element("Message"u8, error.Message);
        if (error.Key is not null)
        {
            xml.Element("Key"u8, error.Key);
        }

        if (error.BucketName is not null)
        {
            xml.Element("BucketName"u8, error.BucketName);
        }

        xml.Element("Resource"u8, context.Request.Path.Value);
        xml.Element("RequestId"u8, requestId);
        xml.End("Error"u8);
        await xml.WriteToAsync(response, context.RequestAborted);
    }
}
