using NormSharp.Nn;

namespace NormSharp.Optim;

/// <summary>The standard batch-norm practice for weight decay, as one call on an optimizer.</summary>
public static class NoWeightDecay
{
    /// <summary>
    /// Takes the normalization parameters (γ and β of batch, layer, group, instance and RMS norm) and every bias
    /// of <paramref name="model"/> out of weight decay: they move to a new parameter group with weight decay 0 and
    /// the optimizer's learning rate, the other parameters keep theirs. Weight decay on γ and β fights the scale
    /// invariance batch norm gives the layer before it and shrinks γ towards 0 for no benefit (the usual practice in
    /// ImageNet training since Goyal et al., 2017). Call it before the first step. Returns the optimizer.
    /// </summary>
    /// <example><code>var optimizer = new SGD(model.Parameters(), lr: 0.1, momentum: 0.9, weightDecay: 5e-4).NoWeightDecayOnNormAndBias(model);</code></example>
    /// <remarks>A parameter counts as normalization or bias when its module is a normalization layer, its name is
    /// <c>bias</c>, or it has at most one dimension (1-D γ, β and biases of any other layer).</remarks>
    /// <exception cref="InvalidOperationException">The optimizer has already stepped.</exception>
    public static T NoWeightDecayOnNormAndBias<T>(this T optimizer, Module model)
        where T : Optimizer
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(model);
        var exempt = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (_, module) in model.NamedModules())
        {
            bool normalization = module is NormBase or LayerNorm or GroupNorm or RMSNorm;
            foreach (var (name, parameter) in module.NamedParameters().Where(p => !p.Key.Contains('.', StringComparison.Ordinal)))
            {
                if (normalization || name == "bias" || parameter.Rank <= 1)
                {
                    exempt.Add(parameter);
                }
            }
        }
        optimizer.SplitOff(exempt.Contains, weightDecay: 0);
        return optimizer;
    }
}
