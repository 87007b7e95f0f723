using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// 2-D adaptive average pooling (PyTorch's <c>nn.AdaptiveAvgPool2d</c>): averages each plane down to
/// <see cref="OutputSize"/> whatever the input size (see <see cref="F.AdaptiveAvgPool2d"/> for the windows).
/// <c>new AdaptiveAvgPool2d(1)</c> is the global average pooling of ResNet heads. Input [N, C, H, W] or [C, H, W].
/// </summary>
/// <param name="outputSize">(outH, outW), an int or a pair, each at least 1.</param>
public sealed class AdaptiveAvgPool2d(Size2d outputSize) : Module
{
    /// <summary>The size of each output plane.</summary>
    public Size2d OutputSize { get; } = outputSize;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.AdaptiveAvgPool2d(input, OutputSize);

    /// <inheritdoc/>
    public override string ToString() => $"AdaptiveAvgPool2d(outputSize: {OutputSize})";
}
