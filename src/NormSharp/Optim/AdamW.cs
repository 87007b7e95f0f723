namespace NormSharp.Optim;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter, 2019), exactly PyTorch's <c>torch.optim.AdamW</c>: Adam with decoupled weight decay.
/// Before each Adam update (without any L2 term in the gradient) the parameter shrinks: p = p · (1 − lr · weightDecay).
/// State keys as <see cref="Adam"/>.
/// </summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="parameters">The parameters to update, e.g. <c>model.Parameters()</c>.</param>
    /// <param name="lr">Learning rate, >= 0; default 1e-3.</param>
    /// <param name="beta1">Decay of the first moment, in [0, 1); default 0.9.</param>
    /// <param name="beta2">Decay of the second moment, in [0, 1); default 0.999.</param>
    /// <param name="eps">Added to the denominator, >= 0; default 1e-8.</param>
    /// <param name="weightDecay">Decoupled decay rate, >= 0; default 1e-2.</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyperparameter outside its range (the message gives the value).</exception>
    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2)
        : base(parameters, lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay: true)
    {
    }
}
