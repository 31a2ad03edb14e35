using System.Text.Json.Nodes;
using Fluid.Serverless.Injector.Json;
using Fluid.Serverless.Injector.Mutation;

namespace Fluid.Serverless.Injector.Tests.Mutation;

/// <summary>The sidecar gets the pod's IRSA/RRSA role env and token mount; the goldens show whole pods.</summary>
public sealed class WebIdentityMutatorTests
{
    [Fact]
    public void Mutate_RoleEnvWithoutTokenMount_WarnsAndAddsNoMount()
    {
        var (context, sidecar) = Context("""
            {"spec":{"containers":[{"name":"app","env":[
              {"name":"AWS_ROLE_ARN","value":"arn:aws:iam::1:role/r"},
              {"name":"AWS_WEB_IDENTITY_TOKEN_FILE","value":"/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}]}]}}
            """);

        new WebIdentityMutator().Mutate(context);

        Assert.Equal(["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"], sidecar.Arr("env").Objects().Select(e => e.Str("name")!));
        Assert.Null(sidecar.Arr("volumeMounts"));
        Assert.Contains(context.Warnings, w => w.Contains("/var/run/secrets/eks.amazonaws.com/serviceaccount/token", StringComparison.Ordinal));
    }

    [Fact]
    public void Mutate_IncompleteRrsaSet_AddsNothing()
    {
        var (context, sidecar) = Context("""
            {"spec":{"containers":[{"name":"app","env":[{"name":"ALIBABA_CLOUD_ROLE_ARN","value":"acs:ram::1:role/r"}]}]}}
            """);

        new WebIdentityMutator().Mutate(context);

        Assert.Null(sidecar.Arr("env"));
        Assert.Empty(context.Warnings);
    }

    [Fact]
    public void Mutate_SidecarAlreadyHasTheVariable_KeepsItsValue()
    {
        var (context, sidecar) = Context("""
            {"spec":{"containers":[{"name":"app","env":[
              {"name":"AWS_ROLE_ARN","value":"arn:aws:iam::1:role/app"},
              {"name":"AWS_WEB_IDENTITY_TOKEN_FILE","value":"/t/token"}],
              "volumeMounts":[{"name":"aws-iam-token","mountPath":"/t"}]}]}}
            """);
        sidecar["env"] = new JsonArray(new JsonObject { ["name"] = "AWS_ROLE_ARN", ["value"] = "arn:aws:iam::1:role/sidecar" });

        new WebIdentityMutator().Mutate(context);

        Assert.Equal("arn:aws:iam::1:role/sidecar", sidecar.Arr("env").Objects().Single(e => e.Str("name") == "AWS_ROLE_ARN").Str("value"));
        var mount = Assert.Single(sidecar.Arr("volumeMounts").Objects());
        Assert.Equal("aws-iam-token", mount.Str("name"));
        Assert.True(mount["readOnly"]!.GetValue<bool>());
    }

    private static (MutationContext Context, JsonObject Sidecar) Context(string podJson)
    {
        var pod = JsonNode.Parse(podJson)!.AsObject();
        var sidecar = new JsonObject { ["name"] = "fluid-serverless-sidecar" };
        var context = new MutationContext(pod, null!) { Sidecar = sidecar };
        return (context, sidecar);
    }
}
