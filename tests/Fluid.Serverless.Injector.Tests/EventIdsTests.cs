using Fluid.Serverless.Tests.Architecture;

namespace Fluid.Serverless.Injector.Tests;

/// <summary>
/// Every [LoggerMessage] of the injector has its own event ID: a log query or an alert keyed on an ID finds one message.
/// </summary>
public sealed class EventIdsTests
{
    [Fact]
    public void EveryLogMethod_HasAnEventIdNoOtherLogMethodUses()
    {
        var logMethods = LogEventIds.Of(typeof(Fluid.Serverless.Injector.EventIds).Assembly);

        Assert.NotEmpty(logMethods);
        var shared = LogEventIds.Shared(logMethods);
        Assert.True(shared.Count == 0, "log methods share an event ID (give each its own in EventIds):\n" + string.Join("\n", shared));
    }
}
