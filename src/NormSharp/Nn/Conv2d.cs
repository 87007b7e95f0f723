using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// 2-D convolution layer (PyTorch's <c>nn.Conv2d</c>): input [N, inChannels, H, W] (or [inChannels, H, W]),
/// output [N, outChannels, outH, outW] with outH = ⌊(H + 2·padding − dilation·(kernelSize − 1) − 1) / stride⌋ + 1.
/// Weight [outChannels, inChannels / groups, kH, kW] and bias [outChannels] start as PyTorch's do:
/// Kaiming uniform with a = √5, i.e. U(−1/√fanIn, 1/√fanIn) with fanIn = inChannels / groups · kH · kW, for both.
/// </summary>
/// <remarks>Size arguments take an int (same for height and width) or a (height, width) pair.</remarks>
public sealed class Conv2d : Module
{
    /// <summary>Creates the layer; parameters are drawn from <paramref name="generator"/> or <see cref="Init.DefaultGenerator"/>.</summary>
    /// <param name="inChannels">Channels of the input.</param>
    /// <param name="outChannels">Channels of the output (number of filters).</param>
    /// <param name="kernelSize">Filter size, an int or a (height, width) pair.</param>
    /// <param name="stride">Window step, default 1.</param>
    /// <param name="padding">Zero padding on each side, default 0.</param>
    /// <param name="dilation">Spacing between filter taps, default 1.</param>
    /// <param name="groups">Channel groups, default 1; both channel counts must be divisible by it.</param>
    /// <param name="bias">Whether to learn an additive bias, default true.</param>
    /// <param name="generator">Source of the initial values.</param>
    public Conv2d(
        int inChannels, int outChannels, Size2d kernelSize,
        Size2d? stride = null, Size2d? padding = null, Size2d? dilation = null,
        int groups = 1, bool bias = true, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groups);
        if (kernelSize.Height <= 0 || kernelSize.Width <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, "Kernel size must be positive.");
        }
        if (inChannels % groups != 0 || outChannels % groups != 0)
        {
            throw new ArgumentException(
                $"Conv2d in channels {inChannels} and out channels {outChannels} must both be divisible by groups {groups}.", nameof(groups));
        }
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride ?? 1;
        Padding = padding ?? 0;
        Dilation = dilation ?? 1;
        Groups = groups;
        if (Stride.Height <= 0 || Stride.Width <= 0 || Dilation.Height <= 0 || Dilation.Width <= 0 || Padding.Height < 0 || Padding.Width < 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(stride), $"Conv2d needs positive stride and dilation and non-negative padding, got stride {Stride}, padding {Padding}, dilation {Dilation}.");
        }
        Weight = RegisterParameter("weight", new Parameter(Tensor.Zeros(outChannels, inChannels / groups, kernelSize.Height, kernelSize.Width)))!;
        Bias = RegisterParameter("bias", bias ? new Parameter(Tensor.Zeros(outChannels)) : null);
        ResetParameters(generator);
    }

    public int InChannels { get; }

    public int OutChannels { get; }

    public Size2d KernelSize { get; }

    public Size2d Stride { get; }

    public Size2d Padding { get; }

    public Size2d Dilation { get; }

    public int Groups { get; }

    /// <summary>[outChannels, inChannels / groups, kH, kW].</summary>
    public Parameter Weight { get; }

    /// <summary>[outChannels], or null when created with bias: false.</summary>
    public Parameter? Bias { get; }

    /// <summary>Re-draws the parameters with PyTorch's default initialization.</summary>
    public void ResetParameters(Generator? generator = null)
    {
        Init.KaimingUniform(Weight, Math.Sqrt(5), generator);
        if (Bias is not null)
        {
            var (fanIn, _) = Init.Fans(Weight);
            double bound = 1 / Math.Sqrt(fanIn);
            Init.Uniform(Bias, -bound, bound, generator);
        }
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups);

    /// <inheritdoc/>
    public override string ToString() =>
        $"Conv2d({InChannels}, {OutChannels}, kernelSize: {KernelSize}, stride: {Stride}, padding: {Padding}, dilation: {Dilation}, groups: {Groups}, bias: {Bias is not null})";
}
