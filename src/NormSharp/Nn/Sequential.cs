namespace NormSharp.Nn;

/// <summary>Applies its modules in order; children are named "0", "1", ... as in PyTorch.</summary>
public sealed class Sequential : Module
{
    private readonly List<Module> layers = [];

    /// <summary>Creates a sequence of <paramref name="modules"/>.</summary>
    public Sequential(params Module[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var m in modules)
        {
            Add(m);
        }
    }

    /// <summary>The number of modules.</summary>
    public int Count => layers.Count;

    /// <summary>The module at <paramref name="index"/>.</summary>
    public Module this[int index] => layers[index];

    /// <summary>Appends a module.</summary>
    public Sequential Add(Module module)
    {
        RegisterModule(layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);
        layers.Add(module);
        return this;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var layer in layers)
        {
            x = layer.Forward(x);
        }
        return x;
    }
}
