using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Group normalization (Wu and He, 2018; PyTorch's <c>nn.GroupNorm</c>): the C channels are split into numGroups
/// groups of C / numGroups consecutive channels; each (sample, group) is normalized over its channels and spatial
/// elements, y = (x − E[x]) / √(Var[x] + eps) · γ[c] + β[c].
/// </summary>
/// <remarks>
/// <para>Biased variance, eps inside the square root, statistics per sample (no running statistics, same in
/// training and evaluation). γ (ones) and β (zeros) are per channel, shape [numChannels].</para>
/// <para>Shapes: input (N, C, *), output the same. numGroups = 1 is LayerNorm over (C, *) with a per-channel
/// affine; numGroups = C is InstanceNorm.</para>
/// <para>Defaults as PyTorch: eps 1e-5, affine true.</para>
/// </remarks>
public sealed class GroupNorm : Module
{
    /// <summary>Creates the layer.</summary>
    /// <param name="numGroups">G, the number of groups; must divide numChannels.</param>
    /// <param name="numChannels">C, the number of channels of the expected input.</param>
    /// <param name="eps">Added to the variance inside the square root.</param>
    /// <param name="affine">Learn γ and β per channel.</param>
    /// <exception cref="ArgumentException">numGroups does not divide numChannels.</exception>
    public GroupNorm(int numGroups, int numChannels, double eps = 1e-5, bool affine = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numGroups);
        ArgumentOutOfRangeException.ThrowIfNegative(numChannels);
        if (numChannels % numGroups != 0)
        {
            throw new ArgumentException(
                $"GroupNorm: numChannels ({numChannels}) must be divisible by numGroups ({numGroups}).", nameof(numGroups));
        }
        Kernels.NormChecks.CheckEps(eps, "GroupNorm");
        NumGroups = numGroups;
        NumChannels = numChannels;
        Eps = eps;
        Affine = affine;
        Weight = RegisterParameter("weight", affine ? new Parameter(Tensor.Ones(numChannels)) : null);
        Bias = RegisterParameter("bias", affine ? new Parameter(Tensor.Zeros(numChannels)) : null);
    }

    /// <summary>G.</summary>
    public int NumGroups { get; }

    /// <summary>C.</summary>
    public int NumChannels { get; }

    /// <summary>Added to the variance inside the square root.</summary>
    public double Eps { get; }

    /// <summary>Whether γ and β are learned.</summary>
    public bool Affine { get; }

    /// <summary>γ, shape [numChannels], ones; null when not affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>β, shape [numChannels], zeros; null when not affine.</summary>
    public Parameter? Bias { get; }

    /// <summary>Weight to ones, bias to zeros.</summary>
    public void ResetParameters()
    {
        Weight?.AsSpan().Fill(1f);
        Bias?.AsSpan().Clear();
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">Rank below 2, or a channel count other than numChannels.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2)
        {
            throw new ArgumentException(
                $"GroupNorm expected input (N, C, *) with at least 2 dimensions, got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        if (input.Size(1) != NumChannels)
        {
            throw new ArgumentException(
                $"GroupNorm expected {NumChannels} channels (numChannels) along axis 1, got {input.Size(1)} in input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        return F.GroupNorm(input, NumGroups, Weight, Bias, Eps);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"GroupNorm({NumGroups}, {NumChannels}, eps: {Eps.ToString(System.Globalization.CultureInfo.InvariantCulture)}, affine: {Affine})";
}
