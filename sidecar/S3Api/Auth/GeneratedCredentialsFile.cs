using System.Security.Cryptography;
using System.Text;

namespace Fluid.Serverless.Sidecar.S3Api.Auth;

/// <summary>The strict posture's pod-local key pair.</summary>
internal sealed record PodCredentials(string AccessKeyId, string SecretAccessKey);

/// <summary>
/// The strict posture's generated credentials as an AWS shared-credentials file (<c>[default]</c>,
/// <c>aws_access_key_id</c>, <c>aws_secret_access_key</c>), the format every AWS SDK, aws-cli and boto3 read through
/// <c>AWS_SHARED_CREDENTIALS_FILE</c>. The file is mode 0644: app containers run as any uid (often not the sidecar's,
/// and an emptyDir has no owner the injector could pick), and everything that can read the volume is already inside
/// the pod, i.e. could reach the loopback endpoint anyway. What the file protects against is a request the app is
/// tricked into sending (SSRF): such a request carries no signature made with this secret.
/// </summary>
internal static class GeneratedCredentialsFile
{
    private const string Profile = "[default]";
    private const string AccessKeyIdName = "aws_access_key_id";
    private const string SecretName = "aws_secret_access_key";
    private const string KeyIdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    private const UnixFileMode FileMode0644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const string SecretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// <summary>
    /// The credentials in <paramref name="path"/> when it already holds a complete [default] profile (a restarted
    /// sidecar keeps what the app has read); otherwise new random ones, written atomically (temp file, rename).
    /// </summary>
    public static PodCredentials LoadOrCreate(string path)
    {
        if (TryRead(path) is { } existing)
        {
            return existing;
        }

        // 20 characters like an AWS key id (FSL = Fluid.Serverless local); a 40-character secret: 240 random bits.
        var credentials = new PodCredentials("FSL" + RandomNumberGenerator.GetString(KeyIdAlphabet, 17), RandomNumberGenerator.GetString(SecretAlphabet, 40));
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, "." + Path.GetFileName(path) + ".tmp");
        var text = $"{Profile}\n{AccessKeyIdName} = {credentials.AccessKeyId}\n{SecretName} = {credentials.SecretAccessKey}\n";
        using (var stream = new FileStream(temp, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write }))
        {
            stream.Write(Encoding.ASCII.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }

        if (!OperatingSystem.IsWindows())
        {
            // Set explicitly: the create mode would be narrowed by the umask.
            File.SetUnixFileMode(temp, FileMode0644);
        }

        File.Move(temp, path, overwrite: true);
        return credentials;
    }

    /// <summary>The [default] profile's key pair, or null when the file is missing or incomplete.</summary>
    internal static PodCredentials? TryRead(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        string? keyId = null, secret = null;
        var inDefault = false;
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.StartsWith('['))
            {
                inDefault = line == Profile;
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (!inDefault || equals < 0)
            {
                continue;
            }

            var name = line[..equals].Trim();
            var value = line[(equals + 1)..].Trim();
            if (name == AccessKeyIdName)
            {
                keyId = value;
            }
            else if (name == SecretName)
            {
                secret = value;
            }
        }

        return string.IsNullOrEmpty(keyId) || string.IsNullOrEmpty(secret) ? null : new PodCredentials(keyId, secret);
    }
}
