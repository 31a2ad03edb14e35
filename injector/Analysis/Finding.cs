namespace Fluid.Serverless.Injector.Analysis;

/// <summary>How bad a finding is: an Error makes <c>analyze</c> exit non-zero.</summary>
internal enum Severity
{
    Error,
    Warning,
    Info,
}

/// <summary>The object a finding is about; Namespace is empty for cluster-scoped objects.</summary>
internal sealed record ObjectRef(string Kind, string Namespace, string Name)
{
    /// <summary>"Deployment team/web", or "MutatingWebhookConfiguration fluid-serverless-injector".</summary>
    public override string ToString() => Namespace.Length == 0 ? $"{Kind} {Name}" : $"{Kind} {Namespace}/{Name}";
}

/// <param name="Code">Stable identifier (<see cref="FindingCodes"/>), for suppressions and CI.</param>
/// <param name="Message">What is wrong and what it breaks.</param>
/// <param name="Fix">What to do about it.</param>
/// <param name="Pods">The pods behind a finding about a workload (names in its namespace), else empty.</param>
internal sealed record Finding(string Code, Severity Severity, ObjectRef Object, string Message, string Fix, IReadOnlyList<string> Pods)
{
    public Finding(string code, Severity severity, ObjectRef obj, string message, string fix)
        : this(code, severity, obj, message, fix, [])
    {
    }
}
