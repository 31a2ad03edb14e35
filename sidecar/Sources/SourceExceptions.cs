namespace Fluid.Serverless.Sidecar.Sources;

/// <summary>The remote failed (after retries, or the circuit is open) and the bytes are not cached.</summary>
internal sealed class SourceUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The object changed at the remote since its metadata was read (ETag mismatch).</summary>
internal sealed class RemoteObjectChangedException(string key) : Exception($"object '{key}' changed at the remote while it was read");

/// <summary>The object no longer exists at the remote.</summary>
internal sealed class RemoteObjectNotFoundException(string key) : Exception($"object '{key}' does not exist at the remote");
