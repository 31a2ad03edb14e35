using System.Text.RegularExpressions;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Option names of an oss:// dataset: ours first, then the names Fluid's JindoRuntime Datasets already use
/// (fs.oss.*), then the S3 names, so an existing OSS Dataset works unchanged.
/// </summary>
internal static partial class OssOptionNames
{
    public static readonly string[] Endpoint = ["endpoint", "fs.oss.endpoint", .. S3OptionNames.Endpoint[1..]];
    public static readonly string[] Region = ["region", "fs.oss.region", .. S3OptionNames.Region[1..]];
    public static readonly string[] AccessKeyId = ["accessKeyId", "fs.oss.accessKeyId", .. S3OptionNames.AccessKeyId[1..]];
    public static readonly string[] SecretAccessKey = ["secretAccessKey", "fs.oss.accessKeySecret", .. S3OptionNames.SecretAccessKey[1..]];
    public static readonly string[] SessionToken = ["sessionToken", "fs.oss.securityToken", .. S3OptionNames.SessionToken[1..]];

    /// <summary>"oss-cn-hangzhou-internal.aliyuncs.com" or "s3.oss-cn-hangzhou.aliyuncs.com" → "cn-hangzhou".</summary>
    public static string? RegionFromEndpoint(string host)
    {
        var match = OssHost().Match(host);
        return match.Success ? match.Groups["region"].Value : null;
    }

    [GeneratedRegex(@"(^|\.)oss-(?<region>[a-z0-9-]+?)(-internal)?\.aliyuncs\.com$", RegexOptions.CultureInvariant)]
    private static partial Regex OssHost();
}
