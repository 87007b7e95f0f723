namespace NormSharp.Nn;

// Replacing a registered child in place (SyncBatchNorm.Convert), keeping its name and so its state-dict keys.
public abstract partial class Module
{
    /// <summary>Replaces the child registered as <paramref name="name"/> by <paramref name="module"/>.</summary>
    /// <exception cref="ArgumentException">No child has that name.</exception>
    internal void ReplaceChild(string name, Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (!children.ContainsKey(name))
        {
            throw new ArgumentException($"{GetType().Name} has no child named \"{name}\".", nameof(name));
        }
        children[name] = module;
        OnChildReplaced(name, module);
    }

    /// <summary>Lets a module that also keeps its children elsewhere (Sequential's list) follow a replacement.</summary>
    private protected virtual void OnChildReplaced(string name, Module module)
    {
    }
}
