namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Option names an S3 dataset understands. The first name of each is ours; the others are how Fluid's runtimes
/// (Alluxio, Jindo, JuiceFS) spell the same thing in existing Dataset objects, so those work unchanged.
/// </summary>
internal static class S3OptionNames
{
    public static readonly string[] Endpoint = ["endpoint", "aws.endpoint", "fs.s3a.endpoint", "alluxio.underfs.s3.endpoint"];
    public static readonly string[] Region = ["region", "aws.region", "fs.s3a.endpoint.region", "alluxio.underfs.s3.endpoint.region"];
    public const string PathStyle = "pathStyle";
    public const string Anonymous = "anonymous";
    public static readonly string[] AccessKeyId = ["accessKeyId", "aws.accessKeyId", "fs.s3a.access.key"];
    public static readonly string[] SecretAccessKey = ["secretAccessKey", "aws.secretKey", "aws.secretAccessKey", "fs.s3a.secret.key"];
    public static readonly string[] SessionToken = ["sessionToken", "aws.sessionToken", "fs.s3a.session.token"];
}
