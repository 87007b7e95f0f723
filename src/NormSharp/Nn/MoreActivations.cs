using System.Globalization;
using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>Returns its input unchanged (PyTorch's <c>nn.Identity</c>): a placeholder, e.g. for a removed head or a skip connection.</summary>
public sealed class Identity : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input;
    }
}

/// <summary>Leaky ReLU (PyTorch's <c>nn.LeakyReLU</c>): x for x &gt; 0, else negativeSlope · x. See <see cref="F.LeakyRelu"/>.</summary>
/// <param name="negativeSlope">The slope for negative inputs, default 0.01.</param>
public sealed class LeakyReLU(double negativeSlope = 0.01) : Module
{
    /// <summary>The slope for negative inputs.</summary>
    public double NegativeSlope { get; } = negativeSlope;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.LeakyRelu(input, NegativeSlope);

    /// <inheritdoc/>
    public override string ToString() => $"LeakyReLU(negativeSlope: {NegativeSlope.ToString(CultureInfo.InvariantCulture)})";
}

/// <summary>SiLU, also called swish (PyTorch's <c>nn.SiLU</c>): x · σ(x).</summary>
public sealed class SiLU : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Silu(input);
}

/// <summary>Softmax along <see cref="Dim"/> (PyTorch's <c>nn.Softmax</c>): e^(x_i) / Σ_j e^(x_j), computed stably.</summary>
/// <param name="dim">The dimension whose entries sum to 1; PyTorch asks for it explicitly, so there is no default.</param>
public sealed class Softmax(int dim) : Module
{
    /// <summary>The dimension normalized over.</summary>
    public int Dim { get; } = dim;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Softmax(input, Dim);

    /// <inheritdoc/>
    public override string ToString() => $"Softmax(dim: {Dim})";
}

/// <summary>
/// Log-softmax along <see cref="Dim"/> (PyTorch's <c>nn.LogSoftmax</c>): x_i − log Σ_j e^(x_j), computed stably;
/// feed it to <see cref="NLLLoss"/>.
/// </summary>
/// <param name="dim">The dimension normalized over.</param>
public sealed class LogSoftmax(int dim) : Module
{
    /// <summary>The dimension normalized over.</summary>
    public int Dim { get; } = dim;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.LogSoftmax(input, Dim);

    /// <inheritdoc/>
    public override string ToString() => $"LogSoftmax(dim: {Dim})";
}
