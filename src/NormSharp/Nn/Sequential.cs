namespace NormSharp.Nn;

/// <summary>Applies its modules in order; children are named "0", "1", ... as in PyTorch.</summary>
/// <remarks>
/// A batch-norm layer directly followed by <see cref="ReLU"/> runs as one fused kernel
/// (<see cref="BatchNormBase.ForwardRelu"/>): the same values and gradients with fewer passes over memory.
/// </remarks>
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

    private protected override bool ReplacesChild(string name, Module replacement)
    {
        layers[int.Parse(name, System.Globalization.CultureInfo.InvariantCulture)] = replacement;
        return true;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i] is BatchNormBase batchNorm && i + 1 < layers.Count && layers[i + 1] is ReLU)
            {
                x = batchNorm.ForwardRelu(x);
                i++;
                continue;
            }
            x = layers[i].Forward(x);
        }
        return x;
    }
}
