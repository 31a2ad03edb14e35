namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>
/// A source that adds a concern (resilience, metadata cache, bandwidth cap) in front of another one. Code that needs a
/// capability of the source underneath (writes, multipart) walks <see cref="Inner"/> instead of knowing the wrappers.
/// </summary>
internal interface IObjectSourceWrapper : IObjectSource
{
    /// <summary>The source this one wraps.</summary>
    IObjectSource Inner { get; }
}
