using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Datasets;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Policy;
using Fluid.Serverless.Injector.Tests.Testing;

namespace Fluid.Serverless.Injector.Tests.Admission;

/// <summary>
/// Golden files: testdata/&lt;case&gt;.yaml is posted as a real AdmissionReview over HTTPS to the running webhook; the
/// returned patch is applied and compared with &lt;case&gt;.injected.yaml, and the patch itself with &lt;case&gt;.patch.json
/// (kubectl-golden-check.sh applies those with kubectl). Denied cases compare the message with &lt;case&gt;.denied.txt,
/// admission warnings go to &lt;case&gt;.warnings.txt.
/// Cluster objects come from _shared.cluster.yaml plus the optional &lt;case&gt;.cluster.yaml.
/// UPDATE_GOLDEN=1 rewrites the expectations; a golden without its case, or a case without goldens, fails.
/// </summary>
public sealed class GoldenAdmissionTests
{
    private static readonly JsonSerializerOptions PatchFileOptions = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // readable goldens: " instead of \u0022
    };

    private static readonly bool Update = Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1";

    private static string TestDataDirectory([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(source))!, "testdata");

    private static readonly string[] GoldenSuffixes = [".injected.yaml", ".patch.json", ".denied.txt", ".warnings.txt", ".cluster.yaml"];

    internal static IReadOnlyList<string> Cases()
    {
        var directory = TestDataDirectory();
        return [.. Directory.GetFiles(directory, "*.yaml")
            .Select(Path.GetFileName)
            .Where(f => !f!.StartsWith('_') && !GoldenSuffixes.Any(s => f.EndsWith(s, StringComparison.Ordinal)))
            .Select(f => f![..^".yaml".Length])
            .Order(StringComparer.Ordinal)];
    }

    [Fact]
    public void Cases_AtLeastThirty_NoStaleGoldens()
    {
        var cases = Cases().ToHashSet(StringComparer.Ordinal);
        Assert.True(cases.Count >= 30, $"only {cases.Count} golden cases");
        var stale = Directory.GetFiles(TestDataDirectory())
            .Select(Path.GetFileName)
            .Where(f => !f!.StartsWith('_') && GoldenSuffixes.FirstOrDefault(s => f!.EndsWith(s, StringComparison.Ordinal)) is { } suffix && !cases.Contains(f![..^suffix.Length]))
            .ToList();
        Assert.True(stale.Count == 0, "golden files without a case: " + string.Join(", ", stale));
    }

    [Fact]
    public async Task Mutate_EveryGoldenCase_PatchedPodMatchesExpected()
    {
        // the Lustre cases name node directories under /mnt/lustre; any other hostPath is outside the allow-list;
        // the shared-cache cases name the tier "garnet" of the injector configuration; no tier is the default
        await using var server = await InjectorServer.StartAsync(new InjectorOptions
        {
            AllowedHostPaths = ["/mnt/lustre"],
            SharedCacheTiers = new Dictionary<string, SharedCacheTier>
            {
                ["garnet"] = new()
                {
                    Endpoints = ["fluid-shared-cache-0.fluid-shared-cache.fluid-serverless.svc:6379", "fluid-shared-cache-1.fluid-shared-cache.fluid-serverless.svc:6379"],
                    PasswordSecretRef = new SecretKeyReference { Name = "fluid-shared-cache", Key = "password" },
                },
            },
        });
        var directory = TestDataDirectory();
        var shared = File.ReadAllText(Path.Combine(directory, "_shared.cluster.yaml"));
        var failures = new List<string>();
        foreach (var name in Cases())
        {
            try
            {
                await RunCaseAsync(server, directory, shared, name);
            }
            catch (Exception exception) when (exception is InvalidOperationException or Xunit.Sdk.XunitException or IOException or JsonException)
            {
                failures.Add($"--- {name}: {exception.Message}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static async Task RunCaseAsync(InjectorServer server, string directory, string shared, string name)
    {
        var basePath = Path.Combine(directory, name);
        server.Cluster.Clear();
        ClusterStateLoader.LoadYaml(server.Cluster, shared);
        if (File.Exists(basePath + ".cluster.yaml"))
        {
            ClusterStateLoader.LoadYaml(server.Cluster, File.ReadAllText(basePath + ".cluster.yaml"));
        }

        var pod = (JsonObject)YamlJson.ParseDocuments(File.ReadAllText(basePath + ".yaml")).Single()!;
        var @namespace = pod.Obj("metadata").Str("namespace") ?? "default";
        var uid = "golden-" + name;
        var review = await server.ReviewAsync(pod, @namespace, dryRun: name.Contains("dry-run", StringComparison.Ordinal), uid: uid);
        var response = review.Obj("response") ?? throw new InvalidOperationException("no response in AdmissionReview");
        if (response.Str("uid") != uid)
        {
            throw new InvalidOperationException($"uid not echoed: {response.Str("uid")}");
        }

        if (response.Bool("allowed") != true)
        {
            var message = response.Obj("status").Str("message") ?? "";
            Compare(basePath + ".denied.txt", message + "\n", File.Exists(basePath + ".denied.txt") ? File.ReadAllText(basePath + ".denied.txt") : null, name);
            ExpectAbsent(basePath, name, ".injected.yaml", ".patch.json");
            return;
        }

        var patch = response.Str("patch") is { } encoded
            ? (JsonArray)JsonNode.Parse(Convert.FromBase64String(encoded))!
            : [];
        foreach (var operation in patch)
        {
            var path = operation!["path"]!.GetValue<string>();
            if (path.StartsWith("/metadata/managedFields", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("the patch touches managedFields: " + path);
            }
        }

        var patched = (JsonObject)JsonPatchApplier.Apply(pod, patch)!;
        var patchText = JsonSerializer.Serialize(patch, PatchFileOptions) + "\n";
        Compare(basePath + ".patch.json", patchText, ReadOrNull(basePath + ".patch.json"), name, semanticJson: true);
        var expectedText = ReadOrNull(basePath + ".injected.yaml");
        if (Update || expectedText is null)
        {
            Compare(basePath + ".injected.yaml", YamlJson.Write(patched), expectedText, name);
        }
        else
        {
            var expected = YamlJson.ParseDocuments(expectedText).Single();
            if (!JsonNode.DeepEquals(expected, patched))
            {
                throw new InvalidOperationException($"patched pod differs from {name}.injected.yaml; got:\n{YamlJson.Write(patched)}");
            }
        }

        ExpectAbsent(basePath, name, ".denied.txt");
        var warnings = string.Concat((response.Arr("warnings") ?? []).Select(w => w!.GetValue<string>() + "\n"));
        if (warnings.Length > 0)
        {
            Compare(basePath + ".warnings.txt", warnings, ReadOrNull(basePath + ".warnings.txt"), name);
        }
        else
        {
            ExpectAbsent(basePath, name, ".warnings.txt");
        }

        // a second admission of the injected pod (reinvocationPolicy: IfNeeded) must change nothing
        if (patch.Count > 0)
        {
            var again = await server.ReviewAsync(patched, @namespace, uid: uid + "-again");
            if (again.Obj("response").Bool("allowed") != true || again.Obj("response").Str("patch") is not null)
            {
                throw new InvalidOperationException("re-admitting the injected pod produced a patch or a denial: " + again.ToJsonString());
            }
        }
    }

    private static string? ReadOrNull(string path) => File.Exists(path) ? File.ReadAllText(path) : null;

    private static void ExpectAbsent(string basePath, string name, params string[] suffixes)
    {
        foreach (var suffix in suffixes)
        {
            if (File.Exists(basePath + suffix))
            {
                if (Update)
                {
                    File.Delete(basePath + suffix);
                }
                else
                {
                    throw new InvalidOperationException($"stale golden {name}{suffix}: the case no longer produces it");
                }
            }
        }
    }

    private static void Compare(string path, string actual, string? expected, string name, bool semanticJson = false)
    {
        if (Update || expected is null)
        {
            if (!Update)
            {
                throw new InvalidOperationException($"missing golden {Path.GetFileName(path)} (run with UPDATE_GOLDEN=1); actual:\n{actual}");
            }

            File.WriteAllText(path, actual, new UTF8Encoding(false));
            return;
        }

        var equal = semanticJson
            ? JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual))
            : expected == actual;
        if (!equal)
        {
            throw new InvalidOperationException($"{Path.GetFileName(path)} differs for {name}; expected:\n{expected}\nactual:\n{actual}");
        }
    }
}
