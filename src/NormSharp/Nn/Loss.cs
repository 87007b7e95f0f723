using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Cross-entropy loss from logits and class indices, mean over the batch (PyTorch's <c>nn.CrossEntropyLoss</c>):
/// loss = (1/N) Σ_n [(1 − ε)·(−log p[n, t_n]) + ε · (1/C) Σ_c (−log p[n, c])] with p = softmax(logits).
/// See <see cref="F.CrossEntropy"/>. Not a <see cref="Module"/>: it takes integer targets besides the input.
/// </summary>
public sealed class CrossEntropyLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="labelSmoothing">ε in [0, 1], default 0: the share of the target mass spread uniformly over all classes.</param>
    /// <param name="weight">Optional [C] class weights; the mean is then Σ w[t_n]·loss_n / Σ w[t_n], as PyTorch.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="labelSmoothing"/> is outside [0, 1].</exception>
    public CrossEntropyLoss(double labelSmoothing = 0, Tensor? weight = null)
    {
        F.CheckLabelSmoothing(labelSmoothing);
        LabelSmoothing = labelSmoothing;
        Weight = weight;
    }

    /// <summary>The label smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <summary>The class weights, or null (all 1).</summary>
    public Tensor? Weight { get; }

    /// <summary>The mean loss, a scalar. <paramref name="input"/> [N, C] logits, <paramref name="target"/> N class indices in [0, C).</summary>
    public Tensor Forward(Tensor input, int[] target) => F.CrossEntropy(input, target, LabelSmoothing, Weight);

    /// <inheritdoc/>
    public override string ToString() => $"CrossEntropyLoss(labelSmoothing: {LabelSmoothing})";
}

/// <summary>
/// Mean squared error over all elements (PyTorch's <c>nn.MSELoss</c>, reduction 'mean'): loss = (1/n) Σ (input − target)².
/// Not a <see cref="Module"/>: it takes two tensors.
/// </summary>
public sealed class MSELoss
{
    /// <summary>The mean loss, a scalar; <paramref name="input"/> and <paramref name="target"/> must have the same shape.</summary>
    public Tensor Forward(Tensor input, Tensor target) => F.MseLoss(input, target);

    /// <inheritdoc/>
    public override string ToString() => "MSELoss()";
}
