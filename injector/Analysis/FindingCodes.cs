namespace Fluid.Serverless.Injector.Analysis;

/// <summary>The codes <c>analyze</c> reports (FS0xyz: x = area). A code never changes meaning; README lists them.</summary>
internal static class FindingCodes
{
    /// <summary>The MutatingWebhookConfiguration is not installed.</summary>
    public const string WebhookMissing = "FS0100";
    /// <summary>A webhook's caBundle does not verify the serving certificate.</summary>
    public const string CaBundleMismatch = "FS0101";
    /// <summary>The webhook's Service has no ready endpoints.</summary>
    public const string NoReadyEndpoints = "FS0102";
    /// <summary>The serving certificate's Secret cannot be read or holds no certificate.</summary>
    public const string ServingCertificateMissing = "FS0103";

    /// <summary>Pods that opted in but carry no sidecar.</summary>
    public const string NotInjected = "FS0201";
    /// <summary>Pods whose sidecar image or template differs from what the injector adds now.</summary>
    public const string OutdatedSidecar = "FS0202";

    /// <summary>A Dataset that pods or a policy name does not exist.</summary>
    public const string DatasetMissing = "FS0301";
    /// <summary>A Secret that a used Dataset names does not exist.</summary>
    public const string SecretMissing = "FS0302";
    /// <summary>A Secret lacks the key a used Dataset names.</summary>
    public const string SecretKeyMissing = "FS0303";

    /// <summary>A namespace's Pod Security level forbids the mode its policy or the injector asks for.</summary>
    public const string PodSecurityForbidsMode = "FS0401";

    /// <summary>Two InjectionPolicies select the same pods with different settings.</summary>
    public const string PolicyConflict = "FS0501";
}
