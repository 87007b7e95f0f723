using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch's <c>conv2d</c>):
    /// y[n, o, oy, ox] = b[o] + Σ_{c ∈ group(o), i, j} w[o, c, i, j] · x[n, c, oy·sH − pH + i·dH, ox·sW − pW + j·dW],
    /// with zero padding.
    /// </summary>
    /// <param name="input">[N, C, H, W], or [C, H, W] for a single unbatched image.</param>
    /// <param name="weight">[outChannels, C / groups, kH, kW].</param>
    /// <param name="bias">[outChannels], or null.</param>
    /// <param name="stride">Step of the window, default 1; an int or a (height, width) pair.</param>
    /// <param name="padding">Zeros added on each side, default 0.</param>
    /// <param name="dilation">Spacing between kernel taps, default 1.</param>
    /// <param name="groups">Channel groups, default 1: input and output channels are split into this many groups
    /// convolved independently (groups = C is a depthwise convolution).</param>
    /// <returns>[N, outChannels, outH, outW] with outH = ⌊(H + 2·pH − dH·(kH − 1) − 1) / sH⌋ + 1 (likewise outW).</returns>
    /// <exception cref="ArgumentException">Wrong rank, channel count or bias length, or a kernel larger than the padded input.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Non-positive stride, dilation or groups, or negative padding.</exception>
    public static Tensor Conv2d(
        Tensor input, Tensor weight, Tensor? bias = null,
        Size2d? stride = null, Size2d? padding = null, Size2d? dilation = null, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        var strides = stride ?? 1;
        var paddings = padding ?? 0;
        var dilations = dilation ?? 1;
        CheckPositive(strides, nameof(stride));
        CheckPositive(dilations, nameof(dilation));
        CheckNonNegative(paddings, nameof(padding));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groups);
        if (weight.Rank != 4 || weight.Size(1) == 0 || weight.Size(2) == 0 || weight.Size(3) == 0)
        {
            throw new ArgumentException(
                $"Conv2d weight must be 4-D [outChannels, inChannels / groups, kH, kW] with non-zero kernel and channels, got shape {ShapeUtil.Format(weight.ShapeSpan)}.", nameof(weight));
        }
        int outChannels = weight.Size(0);
        if (outChannels % groups != 0)
        {
            throw new ArgumentException($"Conv2d out channels {outChannels} (weight {ShapeUtil.Format(weight.ShapeSpan)}) must be divisible by groups {groups}.", nameof(groups));
        }
        if (input.Rank is not (3 or 4))
        {
            throw new ArgumentException(
                $"Conv2d expected 3-D [C, H, W] or 4-D [N, C, H, W] input, got {input.Rank}-D shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        bool unbatched = input.Rank == 3;
        var batched = unbatched ? input.Reshape([1, .. input.ShapeSpan]) : input;
        int channels = batched.Size(1);
        int expectedChannels = weight.Size(1) * groups;
        if (channels != expectedChannels)
        {
            throw new ArgumentException(
                $"Conv2d expected input with {expectedChannels} channels (weight {ShapeUtil.Format(weight.ShapeSpan)}, groups {groups}), got {channels} channels in input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        if (bias is not null && (bias.Rank != 1 || bias.Size(0) != outChannels))
        {
            throw new ArgumentException($"Conv2d bias must have shape [{outChannels}], got {ShapeUtil.Format(bias.ShapeSpan)}.", nameof(bias));
        }
        var window = new Window2d(
            batched.Size(2), batched.Size(3), weight.Size(2), weight.Size(3),
            strides.Height, strides.Width, paddings.Height, paddings.Width, dilations.Height, dilations.Width);
        if (window.OutHeight <= 0 || window.OutWidth <= 0)
        {
            throw new ArgumentException(
                $"Conv2d kernel {ShapeUtil.Format(weight.ShapeSpan[2..])} with dilation {dilations} is larger than the padded input: input {ShapeUtil.Format(input.ShapeSpan)}, padding {paddings}.", nameof(input));
        }
        var output = new Conv2dFunction(window, groups).Forward(batched, weight, bias);
        return unbatched ? output.Reshape(output.Shape[1..]) : output;
    }

    private static void CheckPositive(Size2d size, string name)
    {
        if (size.Height <= 0 || size.Width <= 0)
        {
            throw new ArgumentOutOfRangeException(name, size, $"{name} must be positive.");
        }
    }

    private static void CheckNonNegative(Size2d size, string name)
    {
        if (size.Height < 0 || size.Width < 0)
        {
            throw new ArgumentOutOfRangeException(name, size, $"{name} must be non-negative.");
        }
    }

    /// <summary>
    /// Convolution as an implicit GEMM per sample (<see cref="ImplicitConv"/>): y[n] = W_g · columns(x[n]) per channel
    /// group, with the column matrix read straight from a padded copy of the sample instead of unfolded. Backward:
    /// dW = Σ_n dy[n] · columns(x[n])ᵀ on the same images; db = Σ_{n, L} dy; dx of a stride-1 convolution is the
    /// forward convolution of dy with the flipped, transposed weight, and that of a strided one is one such convolution
    /// per stride phase of the input (<see cref="SubPixelConv"/>). A 3x3 stride-1 forward or input gradient of at least
    /// 32 channels runs as Winograd's F(4x4, 3x3) where the output is at least 25 wide, and of at least 64 channels as
    /// F(2x2, 3x3) where it is narrower (<see cref="WinogradConv"/>).
    /// </summary>
    private sealed class Conv2dFunction(Window2d window, int groups) : Function
    {
        private bool hasBias;

        public override string Name => "Conv2d";

        public Tensor Forward(Tensor input, Tensor weight, Tensor? bias)
        {
            int batch = input.Size(0), channels = input.Size(1), outChannels = weight.Size(0);
            var output = Tensor.Uninitialized(batch, outChannels, window.OutHeight, window.OutWidth);
            hasBias = bias is not null;
            int tileSize = WinogradConv.TileSize(window, groups, channels, outChannels);
            if (tileSize > 0)
            {
                using var transformed = WinogradConv.TransformWeight(tileSize, weight.Storage, weight.Offset, outChannels, channels, flipped: false);
                WinogradConv.Forward(input.Storage, input.Offset, batch, window, transformed, bias?.ToArray(), output.Storage, output.Offset);
            }
            else
            {
                using var packedWeight = ImplicitConv.PackWeight(weight.Data, groups, outChannels / groups, weight.Length / outChannels);
                ImplicitConv.Forward(input.Storage, input.Offset, batch, new ConvImage(window, channels), packedWeight,
                    bias?.ToArray(), output.Storage, output.Offset);
            }
            SaveForBackward(input, weight);
            return bias is null ? Record(output, input, weight) : Record(output, input, weight, bias);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var input = SavedTensors[0];
            var weight = SavedTensors[1];
            int batch = input.Size(0), channels = input.Size(1), outChannels = weight.Size(0);
            Tensor? gradWeight = null, gradInput = null;
            if (NeedsInputGrad[1])
            {
                gradWeight = Tensor.Uninitialized(weight.Shape);
                ImplicitConv.WeightGradient(input.Storage, input.Offset, gradOutput.Storage, gradOutput.Offset, batch,
                    new ConvImage(window, channels), groups, outChannels, gradWeight.AsSpan());
            }
            if (NeedsInputGrad[0])
            {
                gradInput = Tensor.Uninitialized(input.Shape);
                if (TransposedWindow() is not { } transposed)
                {
                    SubPixelConv.InputGradient(gradOutput.Storage, gradOutput.Offset, batch, window, weight.Data, outChannels, channels, groups,
                        gradInput.Storage, gradInput.Offset);
                }
                else if (WinogradConv.TileSize(transposed, groups, outChannels, channels) is > 0 and var tileSize)
                {
                    using var transformed = WinogradConv.TransformWeight(tileSize, weight.Storage, weight.Offset, channels, outChannels, flipped: true);
                    WinogradConv.Forward(gradOutput.Storage, gradOutput.Offset, batch, transposed, transformed, null, gradInput.Storage, gradInput.Offset);
                }
                else
                {
                    using var flipped = ImplicitConv.FlipWeight(weight.Data, outChannels, channels / groups, window.KernelArea, groups);
                    ImplicitConv.Forward(gradOutput.Storage, gradOutput.Offset, batch, new ConvImage(transposed, outChannels),
                        flipped, null, gradInput.Storage, gradInput.Offset);
                }
            }
            Tensor? gradBias = hasBias && NeedsInputGrad[2] ? BiasGradient(gradOutput, outChannels) : null;
            return hasBias ? [gradInput, gradWeight, gradBias] : [gradInput, gradWeight];
        }

        /// <summary>
        /// For stride 1, the window of the convolution whose output is dx: over dy [outH, outW] padded by d·(k − 1) − p,
        /// same kernel and dilation; null for a strided convolution or a padding beyond d·(k − 1), which would crop dy.
        /// </summary>
        private Window2d? TransposedWindow()
        {
            int padHeight = window.DilationHeight * (window.KernelHeight - 1) - window.PaddingHeight;
            int padWidth = window.DilationWidth * (window.KernelWidth - 1) - window.PaddingWidth;
            if (window.StrideHeight != 1 || window.StrideWidth != 1 || padHeight < 0 || padWidth < 0)
            {
                return null;
            }
            return new Window2d(window.OutHeight, window.OutWidth, window.KernelHeight, window.KernelWidth, 1, 1,
                padHeight, padWidth, window.DilationHeight, window.DilationWidth);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private Tensor BiasGradient(Tensor gradOutput, int outChannels)
        {
            int batch = gradOutput.Size(0), outPlane = window.OutPlane;
            var dy = gradOutput.Data;
            var gradBias = Tensor.Zeros(outChannels);
            var db = gradBias.AsSpan();
            for (int o = 0; o < outChannels; o++)
            {
                double sum = 0;
                for (int n = 0; n < batch; n++)
                {
                    sum += TensorPrimitives.Sum(dy.Slice((n * outChannels + o) * outPlane, outPlane));
                }
                db[o] = (float)sum;
            }
            return gradBias;
        }
    }
}
