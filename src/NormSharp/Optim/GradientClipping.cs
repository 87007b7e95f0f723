namespace NormSharp.Optim;

/// <summary>Gradient clipping between <c>Backward</c> and the optimizer step (PyTorch's <c>torch.nn.utils.clip_grad_*_</c>).</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales all gradients together so that their joint norm is at most <paramref name="maxNorm"/> (PyTorch's
    /// <c>clip_grad_norm_</c>): total = ‖(‖g₁‖, ‖g₂‖, ...)‖ with the p-norm <paramref name="normType"/> (∞ = largest
    /// |g|), then every g ×= min(1, maxNorm / (total + 1e-6)). Parameters without a gradient are skipped.
    /// </summary>
    /// <param name="parameters">The parameters whose gradients to clip, e.g. <c>model.Parameters()</c>.</param>
    /// <param name="maxNorm">The largest allowed norm, >= 0.</param>
    /// <param name="normType">p of the p-norm, > 0, or <see cref="double.PositiveInfinity"/>; default 2.</param>
    /// <param name="errorIfNonfinite">Throw when the total norm is NaN or infinite instead of scaling by it.</param>
    /// <returns>The total norm before clipping (0 when no parameter has a gradient).</returns>
    /// <exception cref="ArgumentOutOfRangeException">A negative maxNorm or a non-positive normType.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="errorIfNonfinite"/> and the norm is NaN or infinite.</exception>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm, double normType = 2, bool errorIfNonfinite = false)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, $"maxNorm must be >= 0, got {maxNorm}.");
        }
        if (!(normType > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(normType), normType, $"normType must be > 0 or infinity, got {normType}.");
        }
        var gradients = parameters.Select(p => p?.Grad).OfType<Tensor>().ToList();
        if (gradients.Count == 0)
        {
            return 0;
        }
        double total = Norm(gradients.Select(g => Norm(g.Data.ToArray().Select(v => (double)v), normType)), normType);
        if (errorIfNonfinite && !double.IsFinite(total))
        {
            throw new InvalidOperationException(
                $"The total norm of order {normType} for gradients from {gradients.Count} parameters is {total}, so they cannot be clipped. Pass errorIfNonfinite: false to scale by it anyway.");
        }
        float coefficient = (float)Math.Min(1.0, maxNorm / (total + 1e-6));
        foreach (var gradient in gradients)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(gradient.AsSpan(), coefficient, gradient.AsSpan());
        }
        return total;
    }

    /// <summary>Clamps every gradient element to [−clipValue, clipValue] (PyTorch's <c>clip_grad_value_</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="clipValue"/> is negative or NaN.</exception>
    public static void ClipGradValue(IEnumerable<Tensor> parameters, double clipValue)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(clipValue >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, $"clipValue must be >= 0, got {clipValue}.");
        }
        float limit = (float)clipValue;
        foreach (var gradient in parameters.Select(p => p?.Grad).OfType<Tensor>())
        {
            System.Numerics.Tensors.TensorPrimitives.Clamp(gradient.AsSpan(), -limit, limit, gradient.AsSpan());
        }
    }

    // The p-norm of the values, in double; p = ∞ is the largest magnitude.
    private static double Norm(IEnumerable<double> values, double p)
    {
        if (double.IsPositiveInfinity(p))
        {
            return values.Select(Math.Abs).DefaultIfEmpty(0).Max();
        }
        double sum = values.Sum(v => Math.Pow(Math.Abs(v), p));
        return Math.Pow(sum, 1 / p);
    }
}
