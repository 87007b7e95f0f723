namespace NormSharp.Nn;

/// <summary>
/// Base class of layers and models (PyTorch's <c>nn.Module</c>): owns named parameters, buffers and
/// child modules, all registered explicitly, and a training flag propagated to children.
/// </summary>
/// <remarks>
/// Names follow PyTorch's so that checkpoint keys match: a parameter <c>weight</c> of child
/// <c>features</c> → <c>features.weight</c>; children of a <see cref="Sequential"/> are named 0, 1, 2 ...
/// </remarks>
public abstract partial class Module
{
    private readonly List<string> parameterNames = [];
    private readonly Dictionary<string, Parameter?> parameters = [];
    private readonly List<string> bufferNames = [];
    private readonly Dictionary<string, Tensor?> buffers = [];
    private readonly List<string> childNames = [];
    private readonly Dictionary<string, Module> children = [];

    /// <summary>True in training mode (the default), false in evaluation mode.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Computes the module's output.</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>Sets training mode on this module and every descendant. Returns this module.</summary>
    public Module Train(bool mode = true)
    {
        Training = mode;
        foreach (var name in childNames)
        {
            children[name].Train(mode);
        }
        return this;
    }

    /// <summary>Sets evaluation mode (<c>Train(false)</c>): dropout off, batch norm uses running statistics.</summary>
    public Module Eval() => Train(false);

    /// <summary>Registers (or replaces) a parameter; null registers an absent one (e.g. bias: false).</summary>
    protected Parameter? RegisterParameter(string name, Parameter? parameter)
    {
        CheckName(name, parameters);
        if (!parameters.ContainsKey(name))
        {
            parameterNames.Add(name);
        }
        parameters[name] = parameter;
        return parameter;
    }

    /// <summary>Registers (or replaces) a buffer: state saved in checkpoints but not trained (running statistics).</summary>
    protected Tensor? RegisterBuffer(string name, Tensor? buffer)
    {
        CheckName(name, buffers);
        if (!buffers.ContainsKey(name))
        {
            bufferNames.Add(name);
        }
        buffers[name] = buffer?.DetachFromDisposeScope();   // module state: outlives any scope it was made in
        return buffer;
    }

    /// <summary>Registers (or replaces) a child module.</summary>
    protected T RegisterModule<T>(string name, T module)
        where T : Module
    {
        ArgumentNullException.ThrowIfNull(module);
        CheckName(name, children);
        if (!children.ContainsKey(name))
        {
            childNames.Add(name);
        }
        children[name] = module;
        return module;
    }

    /// <summary>Every parameter of this module and its descendants, in registration order, each once.</summary>
    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Value);

    /// <summary>Parameters with their dotted names (<c>features.0.weight</c>).</summary>
    public IEnumerable<KeyValuePair<string, Parameter>> NamedParameters()
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, module) in NamedModules())
        {
            foreach (var name in module.parameterNames)
            {
                if (module.parameters[name] is { } p && seen.Add(p))
                {
                    yield return new(Join(prefix, name), p);
                }
            }
        }
    }

    /// <summary>Buffers with their dotted names (<c>features.1.running_mean</c>).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> NamedBuffers()
    {
        foreach (var (prefix, module) in NamedModules())
        {
            foreach (var name in module.bufferNames)
            {
                if (module.buffers[name] is { } b)
                {
                    yield return new(Join(prefix, name), b);
                }
            }
        }
    }

    /// <summary>Direct children with their names.</summary>
    public IEnumerable<KeyValuePair<string, Module>> NamedChildren() =>
        childNames.Select(n => new KeyValuePair<string, Module>(n, children[n]));

    /// <summary>This module (name "") and every descendant, depth first, with dotted names.</summary>
    /// <exception cref="InvalidOperationException">A field of a module holds a module or parameter that is not
    /// registered (see <see cref="RegisterComponents"/>); the message names the field.</exception>
    public IEnumerable<KeyValuePair<string, Module>> NamedModules()
    {
        CheckComponentsRegistered();
        return RegisteredModules();
    }

    /// <summary>This module and every registered descendant, depth first, without the field check.</summary>
    private IEnumerable<KeyValuePair<string, Module>> RegisteredModules()
    {
        var stack = new Stack<KeyValuePair<string, Module>>();
        stack.Push(new("", this));
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        while (stack.Count > 0)
        {
            var (prefix, module) = stack.Pop();
            if (!seen.Add(module))
            {
                continue;
            }
            yield return new(prefix, module);
            for (int i = module.childNames.Count - 1; i >= 0; i--)
            {
                var name = module.childNames[i];
                stack.Push(new(Join(prefix, name), module.children[name]));
            }
        }
    }

    /// <summary>This module and every descendant.</summary>
    public IEnumerable<Module> Modules() => NamedModules().Select(m => m.Value);

    /// <summary>
    /// Clears the gradients of every parameter: disposes each and sets it to null, as PyTorch's default set_to_none
    /// drops its reference, so the next backward writes its gradients into their storage. Clone a gradient to keep it.
    /// </summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters())
        {
            p.Grad?.Dispose();
            p.Grad = null;
        }
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    private static void CheckName<T>(string name, Dictionary<string, T> _)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('.', StringComparison.Ordinal))
        {
            throw new ArgumentException($"Module attribute names cannot contain '.', got \"{name}\".", nameof(name));
        }
    }
}
