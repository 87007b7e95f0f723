namespace NormSharp.Nn;

// Module.ToString(): the module tree as PyTorch's repr prints it.
public abstract partial class Module
{
    /// <summary>
    /// The module tree as PyTorch prints it: the type name, then in parentheses <see cref="ExtraRepr"/> and one line
    /// <c>(name): child</c> per registered child, children indented by two spaces:
    /// <code>
    /// Sequential(
    ///   (0): Linear(inFeatures: 4, outFeatures: 8, bias: True)
    ///   (1): ReLU()
    /// )
    /// </code>
    /// Leaf modules that override ToString print their own line.
    /// </summary>
    public override string ToString()
    {
        string extra = ExtraRepr();
        var lines = new List<string>();
        if (extra.Length > 0)
        {
            lines.AddRange(extra.Split('\n'));
        }
        foreach (var name in childNames)
        {
            lines.Add($"({name}): " + children[name].ToString().Replace("\n", "\n  ", StringComparison.Ordinal));
        }
        string body = lines.Count switch
        {
            0 => "",
            1 when childNames.Count == 0 => lines[0],
            _ => "\n  " + string.Join("\n  ", lines) + "\n",
        };
        return GetType().Name + "(" + body + ")";
    }

    /// <summary>Settings printed inside the parentheses of <see cref="ToString"/> (PyTorch's <c>extra_repr</c>); empty by default.</summary>
    protected virtual string ExtraRepr() => "";
}
