using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Root mean square layer normalization (Zhang and Sennrich, 2019; PyTorch's <c>nn.RMSNorm</c>) over the last
/// <c>normalizedShape.Length</c> dimensions: y = x / √(mean(x²) + eps) · γ. No centering and no bias.
/// </summary>
/// <remarks>
/// <para>Shapes: input [*, normalizedShape...], output the same; γ (ones) has shape normalizedShape.</para>
/// <para>Defaults as PyTorch: eps null = torch.finfo(float32).eps = 2⁻²³ ≈ 1.19e-7, elementwiseAffine true.</para>
/// </remarks>
public sealed class RMSNorm : Module
{
    /// <summary>Creates the layer.</summary>
    /// <param name="normalizedShape">The trailing dimensions to normalize over.</param>
    /// <param name="eps">Added to the mean square inside the square root; null = 2⁻²³.</param>
    /// <param name="elementwiseAffine">Learn γ.</param>
    public RMSNorm(int[] normalizedShape, double? eps = null, bool elementwiseAffine = true)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        foreach (int d in normalizedShape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(normalizedShape));
        }
        if (eps is double e)
        {
            Kernels.NormChecks.CheckEps(e, "RMSNorm");
        }
        NormalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        ElementwiseAffine = elementwiseAffine;
        Weight = RegisterParameter("weight", elementwiseAffine ? new Parameter(Tensor.Ones(NormalizedShape)) : null);
    }

    /// <summary>The trailing dimensions normalized over (a copy).</summary>
    public int[] NormalizedShape { get; }

    /// <summary>Added to the mean square; null means torch.finfo(float32).eps = 2⁻²³.</summary>
    public double? Eps { get; }

    /// <summary>Whether γ is learned.</summary>
    public bool ElementwiseAffine { get; }

    /// <summary>γ, shape normalizedShape, ones; null without elementwise affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>Weight to ones.</summary>
    public void ResetParameters() => Weight?.AsSpan().Fill(1f);

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The input's trailing dimensions are not normalizedShape.</exception>
    public override Tensor Forward(Tensor input) => F.RmsNorm(input, NormalizedShape, Weight, Eps);

    /// <inheritdoc/>
    public override string ToString() =>
        $"RMSNorm({ShapeUtil.Format(NormalizedShape)}, eps: {(Eps is double e ? e.ToString(System.Globalization.CultureInfo.InvariantCulture) : "null")}, elementwiseAffine: {ElementwiseAffine})";
}
