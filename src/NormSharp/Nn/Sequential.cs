namespace NormSharp.Nn;

/// <summary>Applies its modules in order; children are named "0", "1", ... as in PyTorch.</summary>
/// <remarks>
/// A batch-norm layer directly followed by <see cref="ReLU"/> runs as one fused kernel
/// (<see cref="BatchNormBase.ForwardRelu"/>): the same values and gradients with fewer passes over memory.
/// <para>Like TorchSharp's <c>Sequential</c>, it disposes each activation it passes from one layer to the next once
/// the next layer has returned (<see cref="Tensor.Dispose"/>: a backward that still reads one keeps it until it has
/// run), so a training step reuses their memory at once instead of after a garbage collection. A layer must not keep
/// its input for later use outside the autograd graph; the input of the first layer and the output of the last are
/// the caller's.</para>
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
            Tensor next;
            if (layers[i] is BatchNormBase batchNorm && i + 1 < layers.Count && layers[i + 1] is ReLU)
            {
                next = batchNorm.ForwardRelu(x);
                i++;
            }
            else
            {
                next = layers[i].Forward(x);
            }
            if (!ReferenceEquals(x, input) && !ReferenceEquals(next, x))
            {
                x.Dispose();
            }
            x = next;
        }
        return x;
    }
}
