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
    /// Convolution as im2col + GEMM, one sample at a time: y[n] = W[outC, C·kH·kW] · cols(x[n])[C·kH·kW, L] (one GEMM
    /// per channel group), which is already the [outC, outH·outW] layout of y[n]. Backward: dW = Σ_n dy[n] · cols(x[n])ᵀ,
    /// dx[n] = col2im(Wᵀ · dy[n]), db = Σ_{n, L} dy.
    /// </summary>
    /// <remarks>
    /// Threads take contiguous ranges of samples and run their GEMMs on one core each, with the sample's column matrix
    /// (9× the sample for a 3×3 kernel) in a per-thread buffer that stays in the core's L2: unfolding a whole batch
    /// first would write and re-read a column matrix nine times the activation's size through memory. Each range adds
    /// its samples' weight gradient into its own buffer, summed in range order, so results do not depend on thread timing.
    /// With fewer samples than cores the samples run one after another and the GEMMs use the threads instead.
    /// </remarks>
    private sealed class Conv2dFunction(Window2d window, int groups) : Function
    {
        private bool hasBias;

        public override string Name => "Conv2d";

        public Tensor Forward(Tensor input, Tensor weight, Tensor? bias)
        {
            int batch = input.Size(0), channels = input.Size(1), outChannels = weight.Size(0);
            var output = Tensor.Uninitialized(batch, outChannels, window.OutHeight, window.OutWidth);
            hasBias = bias is not null;
            var shape = new Geometry(window, groups, channels, outChannels);
            float[] x = input.Storage, w = weight.Storage, y = output.Storage;
            int xOffset = input.Offset, wOffset = weight.Offset, yOffset = output.Offset;
            float[]? b = bias?.ToArray();
            int ranges = Parallelism.RangeCount(batch, shape.WorkPerSample);
            int gemmWorkers = GemmWorkers(ranges);
            using var packedWeights = PackWeights(w.AsSpan(wOffset, weight.Length), shape, transpose: false);
            Parallelism.ForRanges(batch, ranges, (_, start, end) =>
            {
                float[]? buffer = shape.IsPointwise ? null : ArrayPool<float>.Shared.Rent(Math.Max(1, shape.ColumnLength));
                try
                {
                    for (int n = start; n < end; n++)
                    {
                        var inputSample = x.AsSpan(xOffset + n * shape.InputLength, shape.InputLength);
                        ReadOnlySpan<float> columns = buffer is null ? inputSample : Unfold(inputSample, channels, buffer);
                        var sample = y.AsSpan(yOffset + n * shape.OutputLength, shape.OutputLength);
                        for (int g = 0; g < groups; g++)
                        {
                            // y[n]_g[groupOut, L] = W_g[groupOut, groupRows] · cols_g[groupRows, L]
                            Gemm.MultiplyPacked(packedWeights[g],
                                columns.Slice(g * shape.GroupColumns, shape.GroupColumns),
                                shape.OutPlane, false, false,
                                sample.Slice(g * shape.GroupOutputs, shape.GroupOutputs), gemmWorkers);
                        }
                        if (b is not null)
                        {
                            for (int o = 0; o < outChannels; o++)
                            {
                                var plane = sample.Slice(o * shape.OutPlane, shape.OutPlane);
                                TensorPrimitives.Add(plane, b[o], plane);
                            }
                        }
                    }
                }
                finally
                {
                    ReturnBuffer(buffer);
                }
            });
            SaveForBackward(input, weight);
            return bias is null ? Record(output, input, weight) : Record(output, input, weight, bias);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var input = SavedTensors[0];
            var weight = SavedTensors[1];
            int batch = input.Size(0), channels = input.Size(1), outChannels = weight.Size(0);
            bool needInput = NeedsInputGrad[0], needWeight = NeedsInputGrad[1];
            var gradInput = needInput ? Tensor.Uninitialized(input.Shape) : null;
            var gradWeight = needWeight ? Tensor.Zeros(weight.Shape) : null;
            if (needInput || needWeight)
            {
                var shape = new Geometry(window, groups, channels, outChannels);
                float[] x = input.Storage, w = weight.Storage, dy = gradOutput.Storage;
                int xOffset = input.Offset, wOffset = weight.Offset, dyOffset = gradOutput.Offset;
                int ranges = Parallelism.RangeCount(batch, 3 * shape.WorkPerSample);
                int gemmWorkers = GemmWorkers(ranges);
                using var packedWeights = needInput ? PackWeights(w.AsSpan(wOffset, weight.Length), shape, transpose: true) : null;
                // Range 0 adds into gradWeight itself, every other range into a buffer of its own.
                var partials = new float[Math.Max(0, ranges - 1)][];
                try
                {
                    Parallelism.ForRanges(batch, ranges, (range, start, end) =>
                    {
                        float[]? buffer = shape.IsPointwise ? null : ArrayPool<float>.Shared.Rent(Math.Max(1, shape.ColumnLength));
                        float[]? partial = needWeight && range > 0 ? partials[range - 1] = Scratch.RentCleared(weight.Length) : null;
                        try
                        {
                            var dw = partial is not null ? partial.AsSpan(0, weight.Length) : gradWeight is not null ? gradWeight.AsSpan() : default;
                            for (int n = start; n < end; n++)
                            {
                                var dySample = dy.AsSpan(dyOffset + n * shape.OutputLength, shape.OutputLength);
                                if (needWeight)
                                {
                                    var inputSample = x.AsSpan(xOffset + n * shape.InputLength, shape.InputLength);
                                    ReadOnlySpan<float> columns = buffer is null ? inputSample : Unfold(inputSample, channels, buffer);
                                    for (int g = 0; g < groups; g++)
                                    {
                                        // dW_g[groupOut, groupRows] += dy[n]_g[groupOut, L] · cols_g[groupRows, L]ᵀ
                                        Gemm.Multiply(
                                            dySample.Slice(g * shape.GroupOutputs, shape.GroupOutputs),
                                            columns.Slice(g * shape.GroupColumns, shape.GroupColumns),
                                            shape.GroupOut, shape.GroupRows, shape.OutPlane, false, true, true,
                                            dw.Slice(g * shape.GroupWeights, shape.GroupWeights), Simd.Best, gemmWorkers);
                                    }
                                }
                                if (gradInput is not null)
                                {
                                    // A 1x1 stride-1 convolution's column gradient is the input gradient itself.
                                    var gradSample = gradInput.Storage.AsSpan(gradInput.Offset + n * shape.InputLength, shape.InputLength);
                                    var gradColumns = buffer is null ? gradSample : buffer.AsSpan(0, shape.ColumnLength);
                                    for (int g = 0; g < groups; g++)
                                    {
                                        // dcols_g[groupRows, L] = W_g[groupOut, groupRows]ᵀ · dy[n]_g[groupOut, L]
                                        Gemm.MultiplyPacked(packedWeights![g],
                                            dySample.Slice(g * shape.GroupOutputs, shape.GroupOutputs),
                                            shape.OutPlane, false, false,
                                            gradColumns.Slice(g * shape.GroupColumns, shape.GroupColumns), gemmWorkers);
                                    }
                                    if (buffer is not null)
                                    {
                                        Im2Col.Fold(gradColumns, channels, window, gradSample);
                                    }
                                }
                            }
                        }
                        finally
                        {
                            ReturnBuffer(buffer);
                        }
                    });
                    // No partials when only the input needs its gradient (a frozen convolution).
                    foreach (var partial in partials)
                    {
                        if (partial is not null)
                        {
                            TensorPrimitives.Add(gradWeight!.AsSpan(), partial.AsSpan(0, weight.Length), gradWeight.AsSpan());
                        }
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

        /// <summary>Sizes of one sample's operands: input, column matrix, output, and their per-group blocks.</summary>
        private readonly record struct Geometry(Window2d Window, int Groups, int Channels, int OutChannels)
        {
            public int OutPlane => Window.OutPlane;

            public int InputLength => Channels * Window.Plane;

            public int OutputLength => OutChannels * OutPlane;

            public int ColumnLength => Channels * Window.KernelArea * OutPlane;

            public int GroupRows => Channels * Window.KernelArea / Groups;

            public int GroupOut => OutChannels / Groups;

            public int GroupWeights => GroupOut * GroupRows;

            public int GroupColumns => GroupRows * OutPlane;

            public int GroupOutputs => GroupOut * OutPlane;

            /// <summary>A 1x1 kernel with stride 1 and no padding: the input sample is its own column matrix.</summary>
            public bool IsPointwise => Window.KernelArea == 1 && Window.StrideHeight == 1 && Window.StrideWidth == 1
                && Window.PaddingHeight == 0 && Window.PaddingWidth == 0;

            /// <summary>Multiply-adds of one sample's forward product.</summary>
            public long WorkPerSample => (long)OutChannels * GroupRows * OutPlane;
        }

        // Fewer sample ranges than cores (a batch of one, or work too small to split): the GEMMs use the threads instead.
        private static int GemmWorkers(int ranges) => ranges < Environment.ProcessorCount ? int.MaxValue : 1;

        private Span<float> Unfold(ReadOnlySpan<float> input, int channels, float[] buffer)
        {
            var columns = buffer.AsSpan(0, channels * window.KernelArea * window.OutPlane);
            Im2Col.Unfold(input, channels, window, columns);
            return columns;
        }

        private static void ReturnBuffer(float[]? buffer)
        {
            if (buffer is not null)
            {
                ArrayPool<float>.Shared.Return(buffer);
            }
        }

        /// <summary>
        /// Each group's weight packed once per call for the micro-kernel (as W_g, or as W_gᵀ for the input gradient),
        /// instead of once per sample: at 8x8 outputs the packing cost a third of a sample's product.
        /// </summary>
        private static PackedWeights PackWeights(ReadOnlySpan<float> weight, Geometry shape, bool transpose)
        {
            var packed = new Gemm.PackedMatrix[shape.Groups];
            for (int g = 0; g < shape.Groups; g++)
            {
                var block = weight.Slice(g * shape.GroupWeights, shape.GroupWeights);
                packed[g] = transpose
                    ? new Gemm.PackedMatrix(block, shape.GroupRows, shape.GroupOut, transposeA: true)
                    : new Gemm.PackedMatrix(block, shape.GroupOut, shape.GroupRows, transposeA: false);
            }
            return new PackedWeights(packed);
        }

        private sealed class PackedWeights(Gemm.PackedMatrix[] groups) : IDisposable
        {
            public Gemm.PackedMatrix this[int group] => groups[group];

            public void Dispose()
            {
                foreach (var matrix in groups)
                {
                    matrix.Dispose();
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
