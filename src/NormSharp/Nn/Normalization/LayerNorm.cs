using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Layer normalization (Ba, Kiros and Hinton, 2016; PyTorch's <c>nn.LayerNorm</c>) over the last
/// <c>normalizedShape.Length</c> dimensions of each sample: y = (x − E[x]) / √(Var[x] + eps) · γ + β.
/// </summary>
/// <remarks>
/// <para>Biased variance, eps inside the square root, statistics per sample (no running statistics, same in
/// training and evaluation). γ (ones) and β (zeros) have shape normalizedShape, one value per element, not per channel.</para>
/// <para>Shapes: input [*, normalizedShape...], output the same. For an image (N, C, H, W) normalized over (C, H, W),
/// pass normalizedShape [C, H, W].</para>
/// <para>Defaults as PyTorch: eps 1e-5, elementwiseAffine true, bias true.</para>
/// </remarks>
public sealed class LayerNorm : Module
{
    /// <summary>Creates the layer.</summary>
    /// <param name="normalizedShape">The trailing dimensions to normalize over.</param>
    /// <param name="eps">Added to the variance inside the square root.</param>
    /// <param name="elementwiseAffine">Learn γ (and β, unless <paramref name="bias"/> is false).</param>
    /// <param name="bias">Learn β when elementwiseAffine is true.</param>
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        foreach (int d in normalizedShape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(normalizedShape));
        }
        Kernels.NormChecks.CheckEps(eps, "LayerNorm");
        NormalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        ElementwiseAffine = elementwiseAffine;
        Weight = RegisterParameter("weight", elementwiseAffine ? new Parameter(Tensor.Ones(NormalizedShape)) : null);
        Bias = RegisterParameter("bias", elementwiseAffine && bias ? new Parameter(Tensor.Zeros(NormalizedShape)) : null);
    }

    /// <summary>The trailing dimensions normalized over (a copy).</summary>
    public int[] NormalizedShape { get; }

    /// <summary>Added to the variance inside the square root.</summary>
    public double Eps { get; }

    /// <summary>Whether γ (and β) are learned.</summary>
    public bool ElementwiseAffine { get; }

    /// <summary>γ, shape normalizedShape, ones; null without elementwise affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>β, shape normalizedShape, zeros; null without elementwise affine or with bias: false.</summary>
    public Parameter? Bias { get; }

    /// <summary>Weight to ones, bias to zeros.</summary>
    public void ResetParameters()
    {
        Weight?.AsSpan().Fill(1f);
        Bias?.AsSpan().Clear();
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The input's trailing dimensions are not normalizedShape.</exception>
    public override Tensor Forward(Tensor input) => F.LayerNorm(input, NormalizedShape, Weight, Bias, Eps);

    /// <inheritdoc/>
    public override string ToString() =>
        $"LayerNorm({ShapeUtil.Format(NormalizedShape)}, eps: {Eps.ToString(System.Globalization.CultureInfo.InvariantCulture)}, elementwiseAffine: {ElementwiseAffine})";
}
