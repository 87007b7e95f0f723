using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;

namespace NormSharp.Nn;

// Safe module building: a child module or parameter kept in a field but never registered would be silently left out
// of Parameters(), StateDict() and checkpoints, so an optimizer would never train it. Such fields are refused with an
// error naming them, and RegisterComponents() registers them in one call (as TorchSharp's RegisterComponents).
public abstract partial class Module
{
    private static readonly ConcurrentDictionary<Type, FieldInfo[]> ComponentFieldsByType = new();

    /// <summary>
    /// Registers every field of this module that holds a <see cref="Module"/> or <see cref="Parameter"/> not yet
    /// registered, under the field's name (an auto-property's name for its backing field; a leading '_' dropped),
    /// in declaration order, base class first. Call it at the end of the constructor instead of one
    /// <c>RegisterModule</c> per field. Fields marked <see cref="NotRegisteredAttribute"/>, null fields and
    /// collections are left alone (hold several modules in a <see cref="ModuleList"/> or <see cref="ModuleDict"/>).
    /// </summary>
    protected void RegisterComponents()
    {
        foreach (var field in ComponentFields(GetType()))
        {
            switch (field.GetValue(this))
            {
                case Module module when !children.Values.Contains(module, ReferenceEqualityComparer.Instance):
                    RegisterModule(ComponentName(field), module);
                    break;
                case Parameter parameter when !parameters.Values.Contains(parameter, ReferenceEqualityComparer.Instance):
                    RegisterParameter(ComponentName(field), parameter);
                    break;
            }
        }
    }

    /// <summary>
    /// Throws when a field of this module or of a registered descendant holds a module or parameter (or a
    /// collection of them) that is not reachable through registration from this module.
    /// </summary>
    private void CheckComponentsRegistered()
    {
        var registered = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var modules = RegisteredModules().Select(m => m.Value).ToList();
        foreach (var module in modules)
        {
            registered.Add(module);
            foreach (var parameter in module.parameters.Values)
            {
                if (parameter is not null)
                {
                    registered.Add(parameter);
                }
            }
        }
        foreach (var module in modules)
        {
            foreach (var field in ComponentFields(module.GetType()))
            {
                foreach (var component in Components(field.GetValue(module)))
                {
                    if (!registered.Contains(component))
                    {
                        throw new InvalidOperationException(Unregistered(module, field, component));
                    }
                }
            }
        }
    }

    private static string Unregistered(Module owner, FieldInfo field, object component)
    {
        string kind = component is Parameter ? "parameter" : "module";
        string name = ComponentName(field);
        string fix = IsCollection(field.FieldType)
            ? $"hold them in a ModuleList (or ModuleDict) registered with RegisterModule(\"{name}\", ...)"
            : $"register it in the constructor with Register{(component is Parameter ? "Parameter" : "Module")}(\"{name}\", ...) or call RegisterComponents() at the end of the constructor";
        return $"Field '{field.Name}' of {owner.GetType().Name} holds a {kind} ({component.GetType().Name}) that is not registered, " +
            $"so it would be left out of Parameters(), StateDict() and checkpoints and never trained: {fix}; " +
            $"mark the field [NotRegistered] if another module owns it.";
    }

    // The module or parameter a field holds, or the ones a collection field holds.
    private static IEnumerable<object> Components(object? value) => value switch
    {
        Module or Parameter => [value],
        IEnumerable items and not Module => items.Cast<object?>().Where(item => item is Module or Parameter).Cast<object>(),
        _ => [],
    };

    // Instance fields of the module's own classes (not Module's) that can hold a module or parameter, base class first.
    private static FieldInfo[] ComponentFields(Type type) => ComponentFieldsByType.GetOrAdd(type, static type =>
    {
        var hierarchy = new List<Type>();
        for (var t = type; t is not null && t != typeof(Module); t = t.BaseType)
        {
            hierarchy.Insert(0, t);
        }
        return
        [
            .. hierarchy.SelectMany(t => t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                .Where(f => f.GetCustomAttribute<NotRegisteredAttribute>() is null && (HoldsComponent(f.FieldType) || IsCollection(f.FieldType))),
        ];
    });

    private static bool HoldsComponent(Type type) => typeof(Module).IsAssignableFrom(type) || typeof(Parameter).IsAssignableFrom(type);

    // Arrays, lists and other sequences whose element type is a module or parameter type.
    private static bool IsCollection(Type type) =>
        !typeof(Module).IsAssignableFrom(type)
        && (type.IsArray ? HoldsComponent(type.GetElementType()!)
            : type.GetInterfaces().Append(type).Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>) && HoldsComponent(i.GetGenericArguments()[0])));

    // "<Head>k__BackingField" -> "Head"; "_conv1" -> "conv1".
    private static string ComponentName(FieldInfo field)
    {
        string name = field.Name;
        if (name.StartsWith('<') && name.IndexOf('>', StringComparison.Ordinal) is int end and > 1)
        {
            return name[1..end];
        }
        return name.TrimStart('_');
    }
}

/// <summary>
/// Marks a field that refers to a module or parameter owned elsewhere, so that <see cref="Module"/>'s check for
/// unregistered components (and <c>RegisterComponents</c>) leaves it alone. For an auto-property, put it on the
/// backing field: <c>[field: NotRegistered]</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class NotRegisteredAttribute : Attribute
{
}
