using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>max(x, 0) elementwise.</summary>
public sealed class ReLU : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Relu(input);
}

/// <summary>1 / (1 + e^-x) elementwise.</summary>
public sealed class Sigmoid : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Sigmoid(input);
}

/// <summary>tanh(x) elementwise.</summary>
public sealed class Tanh : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Tanh(input);
}

/// <summary>GELU, exact: x · Φ(x) (PyTorch's default, approximate='none').</summary>
public sealed class GELU : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Gelu(input);
}

/// <summary>Flattens dimensions from <c>startDim</c> (default 1, keeping the batch) to the end.</summary>
public sealed class Flatten(int startDim = 1) : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Flatten(startDim);
    }
}
