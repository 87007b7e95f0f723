using System.Buffers;
using System.Numerics.Tensors;
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
    /// Convolution as im2col + GEMM per sample: y_n[outC, L] = W[outC, C·kH·kW] · cols(x_n)[C·kH·kW, L], one GEMM per
    /// channel group. Backward: dW = Σ_n dy_n · cols(x_n)ᵀ, dx_n = col2im(Wᵀ · dy_n), db = Σ_{n, L} dy.
    /// Samples are split into contiguous ranges run in parallel; each range sums its own dW, and the ranges
    /// are added in order, so the result does not depend on thread timing.
    /// </summary>
    private sealed class Conv2dFunction(Window2d window, int groups) : Function
    {
        private bool hasBias;

        public override string Name => "Conv2d";

        // A 1x1 kernel with stride 1 and no padding reads every pixel once, in order: the columns are the image itself.
        private bool ColumnsAreInput =>
            window is { KernelHeight: 1, KernelWidth: 1, StrideHeight: 1, StrideWidth: 1, PaddingHeight: 0, PaddingWidth: 0 };

        public Tensor Forward(Tensor input, Tensor weight, Tensor? bias)
        {
            int batch = input.Size(0), channels = input.Size(1), outChannels = weight.Size(0);
            var output = Tensor.Zeros(batch, outChannels, window.OutHeight, window.OutWidth);
            hasBias = bias is not null;
            long workPerSample = (long)outChannels * (channels / groups) * window.KernelArea * window.OutPlane;
            Parallelism.For(batch, workPerSample, (_, start, end) => ForwardSamples(input, weight, bias, output, start, end));
            SaveForBackward(input, weight);
            return bias is null ? Record(output, input, weight) : Record(output, input, weight, bias);
        }

        private void ForwardSamples(Tensor input, Tensor weight, Tensor? bias, Tensor output, int start, int end)
        {
            int channels = input.Size(1), outChannels = weight.Size(0);
            int plane = window.Plane, outPlane = window.OutPlane;
            int columnRows = channels * window.KernelArea, groupRows = columnRows / groups, groupOut = outChannels / groups;
            bool direct = ColumnsAreInput;
            float[]? buffer = direct ? null : ArrayPool<float>.Shared.Rent(columnRows * outPlane);
            try
            {
                var weights = weight.Data;
                for (int n = start; n < end; n++)
                {
                    var x = input.Data.Slice(n * channels * plane, channels * plane);
                    ReadOnlySpan<float> columns = x;
                    if (!direct)
                    {
                        var unfolded = buffer.AsSpan(0, columnRows * outPlane);
                        Im2Col.Unfold(x, channels, window, unfolded);
                        columns = unfolded;
                    }
                    var y = output.AsSpan().Slice(n * outChannels * outPlane, outChannels * outPlane);
                    if (bias is not null)
                    {
                        var b = bias.Data;
                        for (int o = 0; o < outChannels; o++)
                        {
                            y.Slice(o * outPlane, outPlane).Fill(b[o]);
                        }
                    }
                    for (int g = 0; g < groups; g++)
                    {
                        // y_g[groupOut, L] (+)= W_g[groupOut, groupRows] · cols_g[groupRows, L]
                        Gemm.Multiply(
                            weights.Slice(g * groupOut * groupRows, groupOut * groupRows),
                            columns.Slice(g * groupRows * outPlane, groupRows * outPlane),
                            groupOut, outPlane, groupRows, false, false, bias is not null,
                            y.Slice(g * groupOut * outPlane, groupOut * outPlane));
                    }
                }
            }
            finally
            {
                if (buffer is not null)
                {
                    ArrayPool<float>.Shared.Return(buffer);
                }
            }
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var input = SavedTensors[0];
            var weight = SavedTensors[1];
            int batch = input.Size(0), channels = input.Size(1), outChannels = weight.Size(0);
            bool needInput = NeedsInputGrad[0], needWeight = NeedsInputGrad[1];
            var gradInput = needInput ? Tensor.ZerosLike(input) : null;
            var gradWeight = needWeight ? Tensor.ZerosLike(weight) : null;
            if (needInput || needWeight)
            {
                long workPerSample = (long)outChannels * (channels / groups) * window.KernelArea * window.OutPlane * ((needInput ? 1 : 0) + (needWeight ? 1 : 0));
                int ranges = Parallelism.RangeCount(batch, workPerSample);
                // Range 0 sums into gradWeight itself; the others into their own buffers, added afterwards in order.
                var partials = new float[]?[ranges];
                try
                {
                    if (needWeight)
                    {
                        for (int r = 1; r < ranges; r++)
                        {
                            partials[r] = ArrayPool<float>.Shared.Rent(weight.Length);
                            partials[r].AsSpan(0, weight.Length).Clear();
                        }
                    }
                    Parallelism.ForRanges(batch, ranges, (r, start, end) =>
                        BackwardSamples(input, weight, gradOutput, gradInput, r == 0 ? gradWeight?.Storage : partials[r], start, end));
                    for (int r = 1; r < ranges && gradWeight is not null; r++)
                    {
                        Elementwise.AddInPlace(partials[r].AsSpan(0, weight.Length), gradWeight.AsSpan());
                    }
                }
                finally
                {
                    foreach (var partial in partials)
                    {
                        if (partial is not null)
                        {
                            ArrayPool<float>.Shared.Return(partial);
                        }
                    }
                }
            }
            Tensor? gradBias = hasBias && NeedsInputGrad[2] ? BiasGradient(gradOutput, outChannels) : null;
            return hasBias ? [gradInput, gradWeight, gradBias] : [gradInput, gradWeight];
        }

        private void BackwardSamples(
            Tensor input, Tensor weight, Tensor gradOutput, Tensor? gradInput, float[]? gradWeight, int start, int end)
        {
            int channels = input.Size(1), outChannels = weight.Size(0);
            int plane = window.Plane, outPlane = window.OutPlane;
            int columnRows = channels * window.KernelArea, groupRows = columnRows / groups, groupOut = outChannels / groups;
            bool direct = ColumnsAreInput;
            float[]? buffer = direct ? null : ArrayPool<float>.Shared.Rent(columnRows * outPlane);
            try
            {
                var weights = weight.Data;
                for (int n = start; n < end; n++)
                {
                    var dy = gradOutput.Data.Slice(n * outChannels * outPlane, outChannels * outPlane);
                    if (gradWeight is not null)
                    {
                        var x = input.Data.Slice(n * channels * plane, channels * plane);
                        ReadOnlySpan<float> columns = x;
                        if (!direct)
                        {
                            var unfolded = buffer.AsSpan(0, columnRows * outPlane);
                            Im2Col.Unfold(x, channels, window, unfolded);
                            columns = unfolded;
                        }
                        for (int g = 0; g < groups; g++)
                        {
                            // dW_g[groupOut, groupRows] += dy_g[groupOut, L] · cols_g[groupRows, L]ᵀ
                            Gemm.Multiply(
                                dy.Slice(g * groupOut * outPlane, groupOut * outPlane),
                                columns.Slice(g * groupRows * outPlane, groupRows * outPlane),
                                groupOut, groupRows, outPlane, false, true, true,
                                gradWeight.AsSpan(g * groupOut * groupRows, groupOut * groupRows));
                        }
                    }
                    if (gradInput is not null)
                    {
                        var dx = gradInput.AsSpan().Slice(n * channels * plane, channels * plane);
                        var gradColumns = direct ? dx : buffer.AsSpan(0, columnRows * outPlane);
                        for (int g = 0; g < groups; g++)
                        {
                            // dcols_g[groupRows, L] = W_g[groupOut, groupRows]ᵀ · dy_g[groupOut, L]
                            Gemm.Multiply(
                                weights.Slice(g * groupOut * groupRows, groupOut * groupRows),
                                dy.Slice(g * groupOut * outPlane, groupOut * outPlane),
                                groupRows, outPlane, groupOut, true, false, false,
                                gradColumns.Slice(g * groupRows * outPlane, groupRows * outPlane));
                        }
                        if (!direct)
                        {
                            Im2Col.Fold(gradColumns, channels, window, dx);
                        }
                    }
                }
            }
            finally
            {
                if (buffer is not null)
                {
                    ArrayPool<float>.Shared.Return(buffer);
                }
            }
        }

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
