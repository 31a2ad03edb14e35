using Fluid.Serverless.Contracts;
using Fluid.Serverless.Sidecar.Sources;

namespace Fluid.Serverless.Sidecar.Datasets;

/// <summary>
/// Wraps a dataset's raw source before it is served, e.g. with the metadata cache (HEAD/LIST with a TTL, never
/// revalidated for immutable datasets). Registered in DI; without one the raw source is served.
/// </summary>
public interface ISourceDecorator
{
    IObjectSource Decorate(DatasetConfig dataset, IObjectSource source);
}
