using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Tests.Architecture;

/// <summary>The [LoggerMessage] methods of an assembly and their event IDs (shared by the sidecar's and the injector's tests).</summary>
internal static class LogEventIds
{
    /// <summary>Every log method of <paramref name="assembly"/>, as "Type.Method", with its event ID.</summary>
    public static IReadOnlyList<(string Name, int EventId)> Of(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        const BindingFlags everyMethod = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static
            | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        return [.. assembly.GetTypes()
            .SelectMany(type => type.GetMethods(everyMethod))
            .Select(method => (Method: method, Attribute: method.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(pair => pair.Attribute is not null)
            .Select(pair => (Name: $"{pair.Method.DeclaringType!.FullName}.{pair.Method.Name}", pair.Attribute!.EventId))];
    }

    /// <summary>Each event ID that more than one log method uses, with the methods; empty when every ID is unique.</summary>
    public static IReadOnlyList<string> Shared(IReadOnlyList<(string Name, int EventId)> logMethods) =>
        [.. logMethods
            .GroupBy(method => method.EventId)
            .Where(group => group.Count() > 1)
            .Select(group => $"event ID {group.Key}: {string.Join(", ", group.Select(method => method.Name))}")];
}
