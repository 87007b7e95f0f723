using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// 2-D max pooling (PyTorch's <c>nn.MaxPool2d</c>, floor mode): the maximum of each kH × kW window, padding counting
/// as −∞; the gradient goes to the first maximum of each window. Input [N, C, H, W] or [C, H, W].
/// </summary>
/// <param name="kernelSize">Window size, an int or a (height, width) pair.</param>
/// <param name="stride">Window step; default (null) = <paramref name="kernelSize"/>, as in PyTorch.</param>
/// <param name="padding">Padding on each side, default 0, at most half the kernel size.</param>
public sealed class MaxPool2d(Size2d kernelSize, Size2d? stride = null, Size2d? padding = null) : Module
{
    public Size2d KernelSize { get; } = kernelSize;

    public Size2d Stride { get; } = stride ?? kernelSize;

    public Size2d Padding { get; } = padding ?? 0;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.MaxPool2d(input, KernelSize, Stride, Padding);

    /// <inheritdoc/>
    public override string ToString() => $"MaxPool2d(kernelSize: {KernelSize}, stride: {Stride}, padding: {Padding})";
}

/// <summary>
/// 2-D average pooling (PyTorch's <c>nn.AvgPool2d</c>, floor mode, count_include_pad = true): the mean of each
/// kH × kW window, zero padding included in the divisor. Input [N, C, H, W] or [C, H, W].
/// </summary>
/// <param name="kernelSize">Window size, an int or a (height, width) pair.</param>
/// <param name="stride">Window step; default (null) = <paramref name="kernelSize"/>, as in PyTorch.</param>
/// <param name="padding">Zero padding on each side, default 0, at most half the kernel size.</param>
public sealed class AvgPool2d(Size2d kernelSize, Size2d? stride = null, Size2d? padding = null) : Module
{
    public Size2d KernelSize { get; } = kernelSize;

    public Size2d Stride { get; } = stride ?? kernelSize;

    public Size2d Padding { get; } = padding ?? 0;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.AvgPool2d(input, KernelSize, Stride, Padding);

    /// <inheritdoc/>
    public override string ToString() => $"AvgPool2d(kernelSize: {KernelSize}, stride: {Stride}, padding: {Padding})";
}
