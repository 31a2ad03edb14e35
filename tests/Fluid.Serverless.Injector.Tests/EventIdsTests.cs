using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Injector.Tests;

/// <summary>
/// Every [LoggerMessage] of the injector has its own event ID: a log query or an alert keyed on an ID finds one message.
/// </summary>
public sealed class EventIdsTests
{
    [Fact]
    public void EveryLogMethod_HasAnEventIdNoOtherLogMethodUses()
    {
        const BindingFlags everyMethod = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static
            | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        var assembly = typeof(Fluid.Serverless.Injector.EventIds).Assembly;
        var logMethods = assembly.GetTypes()
            .SelectMany(type => type.GetMethods(everyMethod))
            .Select(method => (Method: method, Attribute: method.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(pair => pair.Attribute is not null)
            .Select(pair => (Name: $"{pair.Method.DeclaringType!.FullName}.{pair.Method.Name}", pair.Attribute!.EventId))
            .ToList();

        Assert.NotEmpty(logMethods);
        var shared = logMethods
            .GroupBy(method => method.EventId)
            .Where(group => group.Count() > 1)
            .Select(group => $"event ID {group.Key}: {string.Join(", ", group.Select(method => method.Name))}")
            .ToList();
        Assert.True(shared.Count == 0, "log methods share an event ID (give each its own in EventIds):\n" + string.Join("\n", shared));
    }
}
