namespace NormSharp.Functional;

/// <summary>
/// Stateless operations with autograd (PyTorch's <c>torch.nn.functional</c>). Modules in
/// <see cref="Nn"/> hold state and call these. The class is partial: one file per family of ops.
/// </summary>
public static partial class F
{
    /// <summary>max(x, 0).</summary>
    public static Tensor Relu(Tensor input) => Checked(input).Relu();

    /// <summary>1 / (1 + e^-x).</summary>
    public static Tensor Sigmoid(Tensor input) => Checked(input).Sigmoid();

    /// <summary>tanh(x).</summary>
    public static Tensor Tanh(Tensor input) => Checked(input).Tanh();

    /// <summary>x · Φ(x), the exact GELU.</summary>
    public static Tensor Gelu(Tensor input) => Checked(input).Gelu();

    private static Tensor Checked(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input;
    }
}
