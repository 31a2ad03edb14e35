using Fluid.Serverless.Sidecar.S3Api.Auth;

namespace Fluid.Serverless.Sidecar.Tests.S3Api.Auth;

public sealed class GeneratedCredentialsFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("generated-credentials-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void LoadOrCreate_WritesASharedCredentialsFile_ReadableByAnyUid()
    {
        var path = Path.Combine(_directory, "aws", "credentials");

        var credentials = GeneratedCredentialsFile.LoadOrCreate(path);

        Assert.Equal($"[default]\naws_access_key_id = {credentials.AccessKeyId}\naws_secret_access_key = {credentials.SecretAccessKey}\n", File.ReadAllText(path));
        Assert.Equal(20, credentials.AccessKeyId.Length);
        Assert.Equal(40, credentials.SecretAccessKey.Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(path));
        Assert.Equal(["credentials"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }

    [Fact]
    public void LoadOrCreate_KeepsExistingCredentials_AndNewPodsGetDifferentOnes()
    {
        var path = Path.Combine(_directory, "credentials");
        var first = GeneratedCredentialsFile.LoadOrCreate(path);

        Assert.Equal(first, GeneratedCredentialsFile.LoadOrCreate(path));
        Assert.NotEqual(first, GeneratedCredentialsFile.LoadOrCreate(Path.Combine(_directory, "other")));
    }

    [Fact]
    public void LoadOrCreate_IncompleteFile_IsReplaced()
    {
        var path = Path.Combine(_directory, "credentials");
        File.WriteAllText(path, "[other]\naws_access_key_id = X\naws_secret_access_key = Y\n[default]\naws_access_key_id = ONLY\n");

        var credentials = GeneratedCredentialsFile.LoadOrCreate(path);

        Assert.NotEqual("ONLY", credentials.AccessKeyId);
        Assert.Equal(credentials, GeneratedCredentialsFile.TryRead(path));
    }
}
