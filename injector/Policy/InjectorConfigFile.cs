using System.Text.Json;
using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Microsoft.Extensions.Configuration;

namespace Fluid.Serverless.Injector.Policy;

/// <summary>
/// The injector's own configuration for the offline commands, from a file in either shape it is installed with:
/// the ConfigMap of <c>manifests/base/configmap.yaml</c> (entries <c>FLUID_INJECTOR_Injector__Setting</c>, as the
/// webhook reads them from its environment), or a plain config (YAML or JSON: <c>Injector: {Setting: value}</c>, or
/// the settings at the top level). Read and validated by the webhook's own <see cref="InjectorOptionsReader"/>.
/// </summary>
internal static class InjectorConfigFile
{
    private const string EnvironmentPrefix = "FLUID_INJECTOR_";
    private const string Section = "Injector";

    /// <summary>The options in <paramref name="path"/>; throws <see cref="InvalidDataException"/> naming the file and what was expected.</summary>
    public static InjectorOptions Load(string path)
    {
        var documents = YamlJson.ParseDocuments(File.ReadAllText(path)).OfType<JsonObject>().ToList();
        if (documents.Count != 1)
        {
            throw new InvalidDataException($"injector config '{path}' holds {documents.Count} YAML/JSON objects: expected one, the ConfigMap of manifests/base/configmap.yaml or a plain config ({Section}: {{InjectByDefault: false, …}})");
        }

        return FromDocument(documents[0], $"injector config '{path}'");
    }

    /// <summary>The options in one ConfigMap or plain config object; <paramref name="origin"/> names it in errors.</summary>
    public static InjectorOptions FromDocument(JsonObject document, string origin)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (document.Str("kind") == "ConfigMap")
        {
            foreach (var (key, value) in document.Obj("data") ?? new JsonObject())
            {
                if (key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
                {
                    settings[key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal)] = Scalar(value);
                }
            }
        }
        else
        {
            Flatten(document.ContainsKey(Section) ? document : new JsonObject { [Section] = document.DeepClone() }, "", settings);
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        try
        {
            return InjectorOptionsReader.Read(configuration.GetSection(Section));
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidDataException($"{origin}: {e.Message}", e);
        }
    }

    private static void Flatten(JsonNode? node, string prefix, Dictionary<string, string?> settings)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, child) in obj)
                {
                    Flatten(child, prefix.Length == 0 ? key : prefix + ":" + key, settings);
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    Flatten(array[i], prefix + ":" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), settings);
                }

                break;
            default:
                settings[prefix] = Scalar(node);
                break;
        }
    }

    private static string? Scalar(JsonNode? node) => node is JsonValue value && value.GetValueKind() == JsonValueKind.String
        ? value.GetValue<string>()
        : node?.ToJsonString();
}
