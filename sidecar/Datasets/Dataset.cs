using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Datasets;

/// <summary>
/// A dataset as served: its config and its source (wrapped with the metadata cache). Immutable: a config change
/// builds a new <see cref="Dataset"/>; requests that already hold the old one finish on it.
/// </summary>
internal sealed class Dataset(DatasetConfig config, IObjectSource source)
{
    public DatasetConfig Config { get; } = config;
    public string Name => Config.Name;
    public bool ReadOnly => Config.ReadOnly;
    public bool Immutable => Config.Immutable;

    /// <summary>The source as seen through the metadata cache (HEAD/LIST cached with the TTL).</summary>
    public IObjectSource Source { get; } = source;
}
