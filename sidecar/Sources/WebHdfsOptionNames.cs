namespace Fluid.Serverless.Sidecar.Sources;

internal static class WebHdfsOptionNames
{
    /// <summary>http(s)://host:port of WebHDFS or HttpFS; overrides the host and port of the source URI.</summary>
    public const string Endpoint = "webhdfsEndpoint";

    /// <summary>HTTP port on the source URI's host (hdfs:// URIs carry the RPC port). Default 9870 (9871 for swebhdfs).</summary>
    public const string Port = "webhdfsPort";

    /// <summary>Simple authentication: the user.name query parameter.</summary>
    public static readonly string[] User = ["user", "user.name", "hadoop.user", "hdfs.user"];

    /// <summary>A delegation token (best as a secret option).</summary>
    public static readonly string[] DelegationToken = ["delegation", "delegationToken"];
}
