using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Fully connected layer y = x · Wᵀ + b (PyTorch's <c>nn.Linear</c>). Input [*, inFeatures], output [*, outFeatures].
/// Weight [outFeatures, inFeatures] and bias [outFeatures] start as PyTorch's do: U(-1/√inFeatures, 1/√inFeatures)
/// (Kaiming uniform with a = √5).
/// </summary>
public sealed class Linear : Module
{
    /// <summary>Creates the layer; parameters are drawn from <paramref name="generator"/> or <see cref="Init.DefaultGenerator"/>.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(outFeatures);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", new Parameter(Tensor.Zeros(outFeatures, inFeatures)))!;
        Bias = RegisterParameter("bias", bias ? new Parameter(Tensor.Zeros(outFeatures)) : null);
        ResetParameters(generator);
    }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    public Parameter Weight { get; }

    /// <summary>The bias, or null when created with bias: false.</summary>
    public Parameter? Bias { get; }

    /// <summary>Re-draws the parameters with PyTorch's default initialization.</summary>
    public void ResetParameters(Generator? generator = null)
    {
        Init.KaimingUniform(Weight, Math.Sqrt(5), generator);
        if (Bias is not null)
        {
            double bound = InFeatures > 0 ? 1 / Math.Sqrt(InFeatures) : 0;
            Init.Uniform(Bias, -bound, bound, generator);
        }
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Linear(input, Weight, Bias);

    /// <inheritdoc/>
    public override string ToString() => $"Linear(inFeatures: {InFeatures}, outFeatures: {OutFeatures}, bias: {Bias is not null})";
}
