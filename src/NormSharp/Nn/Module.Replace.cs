namespace NormSharp.Nn;

// Swapping a registered child for another module, for model-wide converters (FrozenBatchNorm2d.Convert,
// SyncBatchNorm.Convert). A module that keeps its children in fields of its own reads them from there, not from the
// registry, so only a module that opts in (Sequential) can have a child replaced.
public abstract partial class Module
{
    /// <summary>
    /// Replaces the child registered under <paramref name="name"/> with <paramref name="replacement"/>, in the registry
    /// and in whatever the module's forward reads. Returns false, changing nothing, when this module does not support it.
    /// </summary>
    internal bool TryReplaceChild(string name, Module replacement)
    {
        if (!children.ContainsKey(name) || !ReplacesChild(name, replacement))
        {
            return false;
        }
        children[name] = replacement;
        return true;
    }

    /// <summary>
    /// Points the module's forward at <paramref name="replacement"/> in place of its child <paramref name="name"/>;
    /// false (the default) when the module cannot.
    /// </summary>
    private protected virtual bool ReplacesChild(string name, Module replacement) => false;
}
