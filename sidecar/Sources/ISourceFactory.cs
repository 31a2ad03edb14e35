using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// Builds the source of a dataset from its config: picks the class by URI scheme (s3, http, https, local, …),
/// resolves <see cref="DatasetConfig.SecretOptions"/> from the environment and wraps it in the source's
/// resilience pipeline. Throws <see cref="ArgumentException"/> naming the field when the config is unusable.
/// </summary>
internal interface ISourceFactory
{
    IObjectSource Create(DatasetConfig dataset);
}
