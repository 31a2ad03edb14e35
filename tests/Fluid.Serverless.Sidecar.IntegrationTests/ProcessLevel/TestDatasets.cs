using Amazon.S3;
using Amazon.S3.Model;
using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Tests.ProcessLevel;

/// <summary>Dataset configs pointing at the test remotes, and deterministic file sets to put there.</summary>
public static class TestDatasets
{
    /// <summary>A dataset served from a bucket (and optional prefix) of an S3-compatible remote such as moto.</summary>
    public static DatasetConfig S3(string name, string bucket, Uri endpoint, string prefix = "", bool immutable = false) => new()
    {
        Name = name,
        Source = $"s3://{bucket}/{prefix}",
        Options = new Dictionary<string, string>
        {
            ["endpoint"] = endpoint.ToString().TrimEnd('/'),
            ["region"] = MotoProcess.Region,
            ["pathStyle"] = "true",
        },
        Immutable = immutable,
    };

    /// <summary>
    /// Writes files of the given sizes under <paramref name="root"/> (key = relative path) with bytes derived from the
    /// key, so every run has the same data; returns key → SHA-256.
    /// </summary>
    public static IReadOnlyDictionary<string, string> WriteFiles(string root, IEnumerable<(string Key, long Size)> files)
    {
        var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, size) in files)
        {
            var path = Path.Combine(root, key);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            // string.GetHashCode is randomized per process; a hash of the key is the same in every run.
            var random = new Random(BitConverter.ToInt32(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key))) ^ (int)size);
            var buffer = new byte[1024 * 1024];
            using (var stream = File.Create(path))
            {
                for (long written = 0; written < size;)
                {
                    var chunk = (int)Math.Min(buffer.Length, size - written);
                    random.NextBytes(buffer.AsSpan(0, chunk));
                    stream.Write(buffer, 0, chunk);
                    written += chunk;
                }
            }

            hashes[key] = Sha256Hex.OfFile(path);
        }

        return hashes;
    }

    /// <summary>Creates <paramref name="bucket"/> and uploads every file under <paramref name="root"/> with its relative path as key.</summary>
    public static async Task UploadDirectoryAsync(IAmazonS3 client, string bucket, string root, IEnumerable<string> keys)
    {
        await client.PutBucketAsync(bucket);
        foreach (var key in keys)
        {
            await client.PutObjectAsync(new PutObjectRequest
            {
                BucketName = bucket,
                Key = key,
                FilePath = Path.Combine(root, key),
                UseChunkEncoding = false,
            });
        }
    }
}
