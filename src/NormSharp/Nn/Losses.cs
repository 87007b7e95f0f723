using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Negative log-likelihood from log-probabilities (PyTorch's <c>nn.NLLLoss</c>, reduction 'mean'):
/// loss = −Σ_n w[t_n]·input[n, t_n] / Σ_n w[t_n]. Pair it with <see cref="LogSoftmax"/>; see <see cref="F.NllLoss"/>.
/// </summary>
/// <param name="weight">Optional [C] class weights (all 1 by default).</param>
public sealed class NLLLoss(Tensor? weight = null)
{
    /// <summary>The class weights, or null.</summary>
    public Tensor? Weight { get; } = weight;

    /// <summary>The mean loss, a scalar. <paramref name="input"/> [N, C] log-probabilities, <paramref name="target"/> N class indices in [0, C).</summary>
    public Tensor Forward(Tensor input, int[] target) => F.NllLoss(input, target, Weight);

    /// <inheritdoc/>
    public override string ToString() => "NLLLoss()";
}

/// <summary>
/// Binary cross-entropy on logits (PyTorch's <c>nn.BCEWithLogitsLoss</c>, reduction 'mean'): sigmoid and BCE in one
/// stable expression, for multi-label or binary outputs; see <see cref="F.BinaryCrossEntropyWithLogits"/>.
/// </summary>
/// <param name="weight">Optional per-element weight, broadcast to the input's shape.</param>
/// <param name="posWeight">Optional weight of positive targets, broadcast to the input's shape (usually [C]).</param>
public sealed class BCEWithLogitsLoss(Tensor? weight = null, Tensor? posWeight = null)
{
    /// <summary>The per-element weight, or null.</summary>
    public Tensor? Weight { get; } = weight;

    /// <summary>The weight of positive targets, or null.</summary>
    public Tensor? PosWeight { get; } = posWeight;

    /// <summary>The mean loss, a scalar; <paramref name="target"/> (values in [0, 1]) has the input's shape.</summary>
    public Tensor Forward(Tensor input, Tensor target) => F.BinaryCrossEntropyWithLogits(input, target, Weight, PosWeight);

    /// <inheritdoc/>
    public override string ToString() => "BCEWithLogitsLoss()";
}

/// <summary>Mean absolute error (PyTorch's <c>nn.L1Loss</c>, reduction 'mean'): loss = (1/n) Σ |input − target|.</summary>
public sealed class L1Loss
{
    /// <summary>The mean loss, a scalar; <paramref name="input"/> and <paramref name="target"/> must have the same shape.</summary>
    public Tensor Forward(Tensor input, Tensor target) => F.L1Loss(input, target);

    /// <inheritdoc/>
    public override string ToString() => "L1Loss()";
}
