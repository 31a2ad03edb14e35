using System.Collections;
using Amazon.S3.Model;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Sources.Credentials;
using Fluid.Serverless.Sidecar.Tests.Fixtures;
using Microsoft.Extensions.Time.Testing;

namespace Fluid.Serverless.Sidecar.Tests.Sources.Credentials;

/// <summary>
/// Keyless credentials (EKS IRSA, ACK RRSA) against a FAKE STS (<see cref="FakeStsServer"/>, in-process Kestrel:
/// neither cloud's STS is reachable here) and an in-process recording S3 endpoint that shows which key and session
/// token the AWS SDK signed with.
/// </summary>
public sealed class WebIdentityCredentialsTests : IAsyncLifetime
{
    private const string AwsRole = "arn:aws:iam::111122223333:role/dataset-reader";
    private const string AlibabaRole = "acs:ram::113511544585:role/dataset-reader";
    private const string AlibabaProvider = "acs:ram::113511544585:oidc-provider/ack-rrsa-c1";

    private readonly TempDirectory _directory = new();
    private FakeStsServer _sts = null!;

    private string TokenFile => Path.Combine(_directory.Path, "token");

    public async Task InitializeAsync()
    {
        _sts = await FakeStsServer.StartAsync();
        await File.WriteAllTextAsync(TokenFile, "token-1\n");
    }

    public async Task DisposeAsync()
    {
        await _sts.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task Irsa_S3Request_SignedWithStsKeyAndSessionToken()
    {
        await using var s3 = await RecordingS3Server.StartAsync();
        var role = WebIdentityRole.FromAwsEnvironment(Env(("AWS_ROLE_ARN", AwsRole), ("AWS_WEB_IDENTITY_TOKEN_FILE", TokenFile), ("AWS_ENDPOINT_URL_STS", _sts.Endpoint.ToString())), "us-east-1")!;
        var client = new S3ClientPool().Get(new S3ClientSettings(s3.Endpoint, "us-east-1", PathStyle: true, S3Credentials.DefaultChain with { WebIdentity = role }));

        using var response = await client.GetObjectAsync(new GetObjectRequest { BucketName = "data", Key = "a.txt" });

        var call = Assert.Single(_sts.Calls);
        Assert.Equal("AssumeRoleWithWebIdentity", call["Action"]);
        Assert.Equal(AwsRole, call["RoleArn"]);
        Assert.Equal("token-1", call["WebIdentityToken"]);
        var request = Assert.Single(s3.Requests);
        Assert.Contains("Credential=KEY1/", request.Authorization, StringComparison.Ordinal);
        Assert.Equal("session1", request.SecurityToken);
    }

    [Fact]
    public async Task Rrsa_OssStyleRequest_SignedWithAlibabaStsKeyAndSecurityToken()
    {
        await using var s3 = await RecordingS3Server.StartAsync();
        var role = WebIdentityRole.FromAlibabaEnvironment(Env(
            ("ALIBABA_CLOUD_ROLE_ARN", AlibabaRole),
            ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", AlibabaProvider),
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", TokenFile),
            ("ALIBABA_CLOUD_STS_ENDPOINT", _sts.Endpoint.ToString())))!;
        var client = new S3ClientPool().Get(new S3ClientSettings(s3.Endpoint, "cn-hangzhou", PathStyle: true, S3Credentials.DefaultChain with { WebIdentity = role }));

        using var response = await client.GetObjectAsync(new GetObjectRequest { BucketName = "data", Key = "a.txt" });

        var call = Assert.Single(_sts.Calls);
        Assert.Equal("AssumeRoleWithOIDC", call["Action"]);
        Assert.Equal(AlibabaRole, call["RoleArn"]);
        Assert.Equal(AlibabaProvider, call["OIDCProviderArn"]);
        Assert.Equal("token-1", call["OIDCToken"]);
        var request = Assert.Single(s3.Requests);
        Assert.Contains("Credential=KEY1/", request.Authorization, StringComparison.Ordinal);
        Assert.Equal("session1", request.SecurityToken);
    }

    [Theory]
    [InlineData("irsa")]
    [InlineData("rrsa")]
    public async Task GetCredentials_BeforeRefreshTime_CachedThenExchangedAgainWithRotatedToken(string mechanism)
    {
        var kind = KindOf(mechanism);
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-06T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        _sts.Now = time.GetUtcNow;
        var credentials = Create(kind, time);

        var first = await credentials.GetCredentialsAsync();
        time.Advance(TimeSpan.FromMinutes(47));
        var cached = await credentials.GetCredentialsAsync();
        await File.WriteAllTextAsync(TokenFile, "token-2");
        time.Advance(TimeSpan.FromMinutes(2));
        var refreshed = await credentials.GetCredentialsAsync();

        Assert.Equal("KEY1", first.AccessKey);
        Assert.Equal("KEY1", cached.AccessKey);
        Assert.Equal("KEY2", refreshed.AccessKey);
        Assert.Equal("session2", refreshed.Token);
        Assert.Equal(2, _sts.Calls.Count);
        Assert.Equal("token-2", _sts.Calls[1][kind == WebIdentityKind.AwsIrsa ? "WebIdentityToken" : "OIDCToken"]);
    }

    [Fact]
    public async Task GetCredentials_ShortLifetime_RefreshedAtHalfBeforeExpiry()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-06T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        _sts.Now = time.GetUtcNow;
        _sts.Lifetime = TimeSpan.FromSeconds(20);
        var credentials = Create(WebIdentityKind.AwsIrsa, time);

        var first = await credentials.GetCredentialsAsync();
        time.Advance(TimeSpan.FromSeconds(11));
        var second = await credentials.GetCredentialsAsync();

        Assert.Equal("KEY1", first.AccessKey);
        Assert.Equal("KEY2", second.AccessKey);
    }

    [Theory]
    [InlineData("irsa", "InvalidIdentityToken", "AssumeRoleWithWebIdentity", AwsRole)]
    [InlineData("rrsa", "AuthenticationFail.OIDCToken.Invalid", "AssumeRoleWithOIDC", AlibabaRole)]
    public async Task GetCredentials_StsRefuses_ErrorNamesRoleEndpointAndCode(string mechanism, string code, string operation, string roleArn)
    {
        _sts.RefuseWith = code;
        var credentials = Create(KindOf(mechanism), TimeProvider.System);

        var error = await Assert.ThrowsAsync<StsExchangeException>(credentials.GetCredentialsAsync);

        Assert.Contains(operation, error.Message, StringComparison.Ordinal);
        Assert.Contains(roleArn, error.Message, StringComparison.Ordinal);
        Assert.Contains(_sts.Endpoint.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 400 " + code, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetCredentials_RefreshRefusedBeforeExpiry_KeepsCurrentUntilExpiry()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-06T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        _sts.Now = time.GetUtcNow;
        var credentials = Create(WebIdentityKind.AwsIrsa, time);
        var first = await credentials.GetCredentialsAsync();

        _sts.RefuseWith = "InvalidIdentityToken";
        time.Advance(TimeSpan.FromMinutes(55));
        var during = await credentials.GetCredentialsAsync();
        time.Advance(TimeSpan.FromMinutes(6));

        Assert.Equal(first.AccessKey, during.AccessKey);
        await Assert.ThrowsAsync<StsExchangeException>(credentials.GetCredentialsAsync);
    }

    [Fact]
    public async Task GetCredentials_TokenFileMissing_ErrorNamesFileAndRole()
    {
        File.Delete(TokenFile);
        var credentials = Create(WebIdentityKind.AlibabaRrsa, TimeProvider.System);

        var error = await Assert.ThrowsAsync<StsExchangeException>(credentials.GetCredentialsAsync);

        Assert.Contains(TokenFile, error.Message, StringComparison.Ordinal);
        Assert.Contains(AlibabaRole, error.Message, StringComparison.Ordinal);
        Assert.Empty(_sts.Calls);
    }

    [Theory]
    [InlineData(3600, 2880)]
    [InlineData(900, 600)]
    [InlineData(20, 10)]
    public void RefreshTime_Lifetime_AFifthBeforeExpiryAtLeastFiveMinutesAtMostHalf(int lifetimeSeconds, int refreshAfterSeconds)
    {
        var obtained = DateTimeOffset.UnixEpoch;

        var refresh = WebIdentityCredentials.RefreshTime(obtained, obtained.AddSeconds(lifetimeSeconds));

        Assert.Equal(obtained.AddSeconds(refreshAfterSeconds), refresh);
    }

    [Fact]
    public void FromAwsEnvironment_NoEndpointOverride_RegionalStsOfTheRegion()
    {
        var role = WebIdentityRole.FromAwsEnvironment(Env(("AWS_ROLE_ARN", AwsRole), ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"), ("AWS_REGION", "eu-west-1")), "us-east-1");

        Assert.NotNull(role);
        Assert.Equal(new Uri("https://sts.eu-west-1.amazonaws.com"), role.StsEndpoint);
        Assert.Null(WebIdentityRole.FromAwsEnvironment(Env(("AWS_ROLE_ARN", AwsRole)), "us-east-1"));
    }

    [Fact]
    public void FromAlibabaEnvironment_BareHostEndpoint_Https()
    {
        var role = WebIdentityRole.FromAlibabaEnvironment(Env(
            ("ALIBABA_CLOUD_ROLE_ARN", AlibabaRole),
            ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", AlibabaProvider),
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/var/run/secrets/ack.alibabacloud.com/rrsa-tokens/token"),
            ("ALIBABA_CLOUD_STS_ENDPOINT", "sts-vpc.cn-hangzhou.aliyuncs.com")));

        Assert.NotNull(role);
        Assert.Equal(new Uri("https://sts-vpc.cn-hangzhou.aliyuncs.com"), role.StsEndpoint);
        Assert.Null(WebIdentityRole.FromAlibabaEnvironment(Env(("ALIBABA_CLOUD_ROLE_ARN", AlibabaRole), ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/t"))));
    }

    [Fact]
    public void FromAwsEnvironment_EndpointNotAUrl_ErrorNamesTheVariable()
    {
        var error = Assert.Throws<ArgumentException>(() => WebIdentityRole.FromAwsEnvironment(Env(("AWS_ROLE_ARN", AwsRole), ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"), ("AWS_ENDPOINT_URL_STS", "ftp://sts")), null));

        Assert.Contains("AWS_ENDPOINT_URL_STS", error.Message, StringComparison.Ordinal);
    }

    private static WebIdentityKind KindOf(string mechanism) => mechanism == "irsa" ? WebIdentityKind.AwsIrsa : WebIdentityKind.AlibabaRrsa;

    private WebIdentityCredentials Create(WebIdentityKind kind, TimeProvider time)
    {
        var role = kind == WebIdentityKind.AwsIrsa
            ? new WebIdentityRole(kind, AwsRole, TokenFile, _sts.Endpoint, "test-session")
            : new WebIdentityRole(kind, AlibabaRole, TokenFile, _sts.Endpoint, "test-session", AlibabaProvider);
        var http = new HttpClient();
        IStsTokenExchange exchange = kind == WebIdentityKind.AwsIrsa ? new AwsWebIdentityExchange(http, role) : new AlibabaOidcExchange(http, role);
        return new WebIdentityCredentials(role, exchange, time);
    }

    private static Hashtable Env(params (string Name, string Value)[] variables)
    {
        var environment = new Hashtable();
        foreach (var (name, value) in variables)
        {
            environment[name] = value;
        }

        return environment;
    }
}
