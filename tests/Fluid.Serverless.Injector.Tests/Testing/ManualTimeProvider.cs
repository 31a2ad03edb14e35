namespace Fluid.Serverless.Injector.Tests.Testing;

/// <summary>A clock the test moves by hand (certificate expiry without waiting a year).</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
