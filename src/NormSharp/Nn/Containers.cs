using System.Collections;
using System.Globalization;

namespace NormSharp.Nn;

/// <summary>
/// A list of registered child modules named "0", "1", ... (PyTorch's <c>nn.ModuleList</c>): their parameters and
/// buffers belong to the owner, unlike modules kept in a plain <see cref="List{T}"/>. It has no forward of its
/// own: the owner decides how to call its modules.
/// </summary>
public sealed class ModuleList : Module, IReadOnlyList<Module>
{
    private readonly List<Module> modules = [];

    /// <summary>Creates a list holding <paramref name="modules"/> in order.</summary>
    public ModuleList(params Module[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var module in modules)
        {
            Add(module);
        }
    }

    /// <summary>The number of modules.</summary>
    public int Count => modules.Count;

    /// <summary>The module at <paramref name="index"/>; negative values count from the end, as in Python.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside [−Count, Count).</exception>
    public Module this[int index]
    {
        get
        {
            int at = index < 0 ? index + modules.Count : index;
            if ((uint)at >= (uint)modules.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, $"ModuleList index out of range for {modules.Count} modules (expected -{modules.Count} <= index < {modules.Count}).");
            }
            return modules[at];
        }
    }

    /// <summary>Appends a module, registered under the next index. Returns this list.</summary>
    public ModuleList Add(Module module)
    {
        RegisterModule(modules.Count.ToString(CultureInfo.InvariantCulture), module);
        modules.Add(module);
        return this;
    }

    /// <summary>Not supported: a ModuleList only holds modules (PyTorch raises NotImplementedError).</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override Tensor Forward(Tensor input) =>
        throw new NotSupportedException("ModuleList has no Forward: iterate over its modules in the owner's Forward.");

    /// <inheritdoc/>
    public IEnumerator<Module> GetEnumerator() => modules.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// Registered child modules by name, in insertion order (PyTorch's <c>nn.ModuleDict</c>); checkpoint keys are
/// <c>owner.name.weight</c>. Names cannot contain '.'. It has no forward of its own.
/// </summary>
public sealed class ModuleDict : Module, IEnumerable<KeyValuePair<string, Module>>
{
    private readonly List<string> keys = [];
    private readonly Dictionary<string, Module> modules = [];

    /// <summary>Creates an empty dictionary; add modules with <see cref="Add"/> or the indexer.</summary>
    public ModuleDict()
    {
    }

    /// <summary>The number of modules.</summary>
    public int Count => keys.Count;

    /// <summary>The names in insertion order.</summary>
    public IReadOnlyList<string> Keys => keys;

    /// <summary>The module named <paramref name="name"/>; setting a new name adds it, an existing name replaces it in place.</summary>
    /// <exception cref="KeyNotFoundException">No module has that name (the message lists the names there are).</exception>
    public Module this[string name]
    {
        get => modules.TryGetValue(name, out var module)
            ? module
            : throw new KeyNotFoundException($"ModuleDict has no module \"{name}\"; it has [{string.Join(", ", keys)}].");
        set => Add(name, value);
    }

    /// <summary>Adds (or replaces) a module under <paramref name="name"/>. Returns this dictionary.</summary>
    public ModuleDict Add(string name, Module module)
    {
        RegisterModule(name, module);
        if (!modules.ContainsKey(name))
        {
            keys.Add(name);
        }
        modules[name] = module;
        return this;
    }

    /// <summary>Whether a module is registered under <paramref name="name"/>.</summary>
    public bool ContainsKey(string name) => modules.ContainsKey(name);

    /// <summary>Not supported: a ModuleDict only holds modules (PyTorch raises NotImplementedError).</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override Tensor Forward(Tensor input) =>
        throw new NotSupportedException("ModuleDict has no Forward: look its modules up by name in the owner's Forward.");

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, Module>> GetEnumerator() =>
        keys.Select(k => new KeyValuePair<string, Module>(k, modules[k])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
