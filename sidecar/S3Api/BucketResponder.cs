using Fluid.Serverless.Sidecar.Datasets;
using Microsoft.AspNetCore.Http;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>ListBuckets (the datasets, by name), HeadBucket and GetBucketLocation.</summary>
internal static class BucketResponder
{
    /// <summary>The endpoint is local; clients that check the region see the default one.</summary>
    public const string Region = "us-east-1";
    private const string OwnerId = "fluid-serverless";

    /// <summary>Buckets "exist" since the process started; S3 clients only display this date.</summary>
    private static readonly DateTimeOffset CreationDate = DateTimeOffset.UtcNow;

    public static async Task ListBucketsAsync(HttpContext context, DatasetSnapshot snapshot)
    {
        var names = new string[snapshot.Datasets.Count];
        var i = 0;
        foreach (var name in snapshot.Datasets.Keys)
        {
            names[i++] = name;
        }

        Array.Sort(names, StringComparer.Ordinal);

        using var xml = new S3XmlWriter();
        xml.StartDocumentElement("ListAllMyBucketsResult"u8);
        xml.Start("Owner"u8);
        xml.Element("ID"u8, OwnerId);
        xml.Element("DisplayName"u8, OwnerId);
        xml.End("Owner"u8);
        xml.Start("Buckets"u8);
        foreach (var name in names)
        {
            xml.Start("Bucket"u8);
            xml.Element("Name"u8, name);
            xml.Element("CreationDate"u8, CreationDate);
            xml.End("Bucket"u8);
        }

        xml.End("Buckets"u8);
        xml.End("ListAllMyBucketsResult"u8);
        if (HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.ContentType = "application/xml";
            context.Response.ContentLength = xml.WrittenMemory.Length;
            return;
        }

        await xml.WriteToAsync(context.Response, context.RequestAborted);
    }

    public static void HeadBucket(HttpContext context)
    {
        context.Response.Headers["x-amz-bucket-region"] = Region;
        context.Response.ContentLength = 0;
    }

    public static async Task GetBucketLocationAsync(HttpContext context)
    {
        using var xml = new S3XmlWriter(256);
        // us-east-1 is the empty LocationConstraint, as S3 answers for it.
        xml.StartDocumentElement("LocationConstraint"u8);
        xml.End("LocationConstraint"u8);
        await xml.WriteToAsync(context.Response, context.RequestAborted);
    }
}
