namespace Fluid.Serverless.Contracts;

/// <summary>Environment variable names of the contract.</summary>
public static class EnvironmentNames
{
    // App containers: make common S3 clients talk to the sidecar. Never override what the user set.
    public const string AwsEndpointUrlS3 = "AWS_ENDPOINT_URL_S3";
    public const string TensorFlowS3Endpoint = "S3_ENDPOINT";
    public const string FsspecS3EndpointUrl = "FSSPEC_S3_ENDPOINT_URL";
    public const string AwsAccessKeyId = "AWS_ACCESS_KEY_ID";
    public const string AwsSecretAccessKey = "AWS_SECRET_ACCESS_KEY";

    /// <summary>Strict posture: where AWS SDKs, aws-cli and boto3 find the generated pod-local credentials.</summary>
    public const string AwsSharedCredentialsFile = "AWS_SHARED_CREDENTIALS_FILE";

    /// <summary>App containers of run-to-completion pods (Jobs) with a legacy (non-native) sidecar: POST here when the
    /// work is done and the sidecar exits, so the pod can complete. Native sidecars (Kubernetes ≥ 1.29) need nothing.</summary>
    public const string SidecarQuitUrl = "FLUID_SIDECAR_QUIT_URL";

    // Sidecar: where its config comes from.
    /// <summary>Path of a JSON file holding a <see cref="SidecarConfig"/>.</summary>
    public const string SidecarConfigFile = "FLUID_SIDECAR_CONFIG_FILE";

    /// <summary>Path of a downward-API annotations file; the config is its serverless.fluid.io/sidecar-config entry.</summary>
    public const string SidecarAnnotationsFile = "FLUID_SIDECAR_ANNOTATIONS_FILE";

    /// <summary>Prefix of the env vars that carry secret dataset options (from secretKeyRef), see <see cref="DatasetConfig.SecretOptions"/>.</summary>
    public const string SecretOptionPrefix = "FLUID_SECRET_";

    /// <summary>Sidecar env vars (from secretKeyRef) holding the shared cache tier's credentials; the sidecar config
    /// names them in sharedCache.userEnv, passwordEnv, accessKeyIdEnv and secretAccessKeyEnv.</summary>
    public const string SharedCacheUser = "FLUID_SHARED_CACHE_USER";
    public const string SharedCachePassword = "FLUID_SHARED_CACHE_PASSWORD";
    public const string SharedCacheAccessKeyId = "FLUID_SHARED_CACHE_ACCESS_KEY_ID";
    public const string SharedCacheSecretAccessKey = "FLUID_SHARED_CACHE_SECRET_ACCESS_KEY";
}
