using System.Reflection;
using System.Reflection.Emit;

namespace Fluid.Serverless.Tests.Architecture;

/// <summary>
/// Which folders (namespaces under a root) of a compiled assembly use which others. Reads what the compiler emitted,
/// not the source text: base types, interfaces, field, property and signature types, and every type, method and
/// field a method body names (so a fully qualified name or a generic argument counts as much as a <c>using</c>).
/// Nested and compiler-generated types (lambdas, async state machines) count for the namespace of their declaring type.
/// </summary>
internal static class NamespaceDependencies
{
    private const BindingFlags Declared = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;

    private static readonly Dictionary<short, OperandType> OperandTypes = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(field => (OpCode)field.GetValue(null)!)
        .ToDictionary(code => code.Value, code => code.OperandType);

    /// <summary>
    /// Every use of one folder by another, as (from, to, the type that uses, the type it uses). <paramref name="folderOf"/>
    /// maps a namespace relative to <paramref name="root"/> ("" for the root itself) to its folder.
    /// </summary>
    public static IReadOnlyList<(string From, string To, string User, string Used)> Of(Assembly assembly, string root, Func<string, string> folderOf)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var uses = new HashSet<(string, string, string, string)>();
        foreach (var type in assembly.GetTypes())
        {
            if (Folder(type, root, folderOf) is not { } from)
            {
                continue;
            }

            var userName = Outermost(type).FullName ?? type.Name;
            foreach (var used in UsedTypes(type))
            {
                if (Folder(used, root, folderOf) is { } to && to != from)
                {
                    uses.Add((from, to, userName, Outermost(used).FullName ?? used.Name));
                }
            }
        }

        return [.. uses.Order()];
    }

    private static string? Folder(Type type, string root, Func<string, string> folderOf)
    {
        var ns = Outermost(type).Namespace ?? "";
        if (ns == root)
        {
            return folderOf("");
        }

        return ns.StartsWith(root + ".", StringComparison.Ordinal) ? folderOf(ns[(root.Length + 1)..]) : null;
    }

    private static Type Outermost(Type type)
    {
        while (type.IsNested)
        {
            type = type.DeclaringType!;
        }

        return type;
    }

    private static IEnumerable<Type> UsedTypes(Type type)
    {
        var found = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t is null || t.IsGenericParameter || !found.Add(t))
            {
                return;
            }

            if (t.HasElementType)
            {
                Add(t.GetElementType());
            }

            if (t.IsGenericType)
            {
                foreach (var argument in t.GetGenericArguments())
                {
                    Add(argument);
                }
            }
        }

        Add(type.BaseType);
        foreach (var i in type.GetInterfaces())
        {
            Add(i);
        }

        foreach (var field in type.GetFields(Declared))
        {
            Add(field.FieldType);
        }

        foreach (var property in type.GetProperties(Declared))
        {
            Add(property.PropertyType);
        }

        foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            if (method is MethodInfo info)
            {
                Add(info.ReturnType);
            }

            foreach (var parameter in method.GetParameters())
            {
                Add(parameter.ParameterType);
            }

            foreach (var member in MembersInBody(type, method))
            {
                switch (member)
                {
                    case Type t:
                        Add(t);
                        break;
                    case MethodBase m:
                        Add(m.DeclaringType);
                        if (m.IsGenericMethod)
                        {
                            foreach (var argument in m.GetGenericArguments())
                            {
                                Add(argument);
                            }
                        }

                        break;
                    case FieldInfo f:
                        Add(f.DeclaringType);
                        Add(f.FieldType);
                        break;
                }
            }
        }

        return found;
    }

    /// <summary>The types, methods and fields the IL of <paramref name="method"/> names (operands of call, newobj, ldfld, box, ldtoken, …).</summary>
    private static IEnumerable<MemberInfo> MembersInBody(Type type, MethodBase method)
    {
        if (method.GetMethodBody()?.GetILAsByteArray() is not { } il)
        {
            yield break;
        }

        var typeArguments = type.IsGenericType ? type.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var at = 0;
        while (at < il.Length)
        {
            short value = il[at++];
            if (value == 0xFE)
            {
                value = (short)(0xFE00 | il[at++]);
            }

            var operand = OperandTypes[value];
            if (operand is OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok)
            {
                yield return method.Module.ResolveMember(BitConverter.ToInt32(il, at), typeArguments, methodArguments)!;
            }

            at += operand switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + (4 * BitConverter.ToInt32(il, at)),
                _ => 4,
            };
        }
    }
}
