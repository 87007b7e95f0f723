namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// Mean absolute error over all elements (PyTorch's <c>l1_loss</c>, reduction 'mean'): loss = (1/n) Σ |input − target|.
    /// Backward: d input = sign(input − target) / n (0 where they are equal), d target = −d input.
    /// </summary>
    /// <param name="input">Any shape.</param>
    /// <param name="target">The same shape as <paramref name="input"/> (no broadcasting).</param>
    /// <returns>A scalar (shape []).</returns>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public static Tensor L1Loss(Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        CheckSameShape("L1Loss", input, target);
        return (input - target).Abs().Mean();
    }
}
