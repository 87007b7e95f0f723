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
    /// Convolution as im2col + GEMM: y[outC, L] = W[outC, C·kH·kW] · cols(x)[C·kH·kW, L], one GEMM per channel group.
    /// Backward: dW = dy · cols(x)ᵀ, dx = col2im(Wᵀ · dy), db = Σ_{n, L} dy. The GEMMs run over a chunk of samples at once: the chunk's columns are unfolded side by side into
    /// cols[C·kH·kW, samples · outPlane], so that one large, well-blocked matrix product per group (threaded inside
    /// <see cref="Gemm"/>) replaces one small product per sample. Unfold, fold and the layout copies run in parallel
    /// over samples; every buffer is pooled. The chunk is as many samples as fit in <see cref="ColumnBudget"/> floats.
    /// </summary>
    private sealed class Conv2dFunction(Window2d window, int groups) : Function
    {
        /// <summary>Floats of column buffer per chunk (16 MiB): a whole batch of the demo CNN in one product.</summary>
        private const int ColumnBudget = 1 << 22;

        private bool hasBias;

        public override string Name => "Conv2d";

        public Tensor Forward(Tensor input, Tensor weight, Tensor? bias)
        {
            int batch = input.Size(0), channels = input.Size(1), outChannels = weight.Size(0);
            var output = Tensor.Uninitialized(batch, outChannels, window.OutHeight, window.OutWidth);
            hasBias = bias is not null;
            int columnRows = channels * window.KernelArea, groupRows = columnRows / groups, groupOut = outChannels / groups;
            int outPlane = window.OutPlane, chunk = ChunkSize(columnRows, outChannels);
            float[] columns = ArrayPool<float>.Shared.Rent(Math.Max(1, columnRows * chunk * outPlane));
            float[] products = ArrayPool<float>.Shared.Rent(Math.Max(1, outChannels * chunk * outPlane));
            try
            {
                for (int n0 = 0; n0 < batch; n0 += chunk)
                {
                    int count = Math.Min(chunk, batch - n0), width = count * outPlane;
                    UnfoldChunk(input, n0, count, columns);
                    for (int g = 0; g < groups; g++)
                    {
                        // y_g[groupOut, samples·L] = W_g[groupOut, groupRows] · cols_g[groupRows, samples·L]
                        Gemm.Multiply(
                            weight.Data.Slice(g * groupOut * groupRows, groupOut * groupRows),
                            columns.AsSpan(g * groupRows * width, groupRows * width),
                            groupOut, width, groupRows, false, false, false,
                            products.AsSpan(g * groupOut * width, groupOut * width));
                    }
                    // [outChannels, samples·L] → output[n, o, L], plus the bias
                    var y = output.Storage;
                    float[]? b = bias?.ToArray();
                    ForSamples(count, outChannels * outPlane, s =>
                    {
                        for (int o = 0; o < outChannels; o++)
                        {
                            var source = products.AsSpan(o * width + s * outPlane, outPlane);
                            var destination = y.AsSpan(((n0 + s) * outChannels + o) * outPlane, outPlane);
                            if (b is null)
                            {
                                source.CopyTo(destination);
                            }
                            else
                            {
                                TensorPrimitives.Add(source, b[o], destination);
                            }
                        }
                    });
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(columns);
                ArrayPool<float>.Shared.Return(products);
            }
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
                int columnRows = channels * window.KernelArea, groupRows = columnRows / groups, groupOut = outChannels / groups;
                int outPlane = window.OutPlane, chunk = ChunkSize(columnRows, outChannels);
                float[] columns = ArrayPool<float>.Shared.Rent(Math.Max(1, columnRows * chunk * outPlane));
                float[] gradProducts = ArrayPool<float>.Shared.Rent(Math.Max(1, outChannels * chunk * outPlane));
                try
                {
                    for (int n0 = 0; n0 < batch; n0 += chunk)
                    {
                        int count = Math.Min(chunk, batch - n0), width = count * outPlane;
                        // dy[n, o, L] → dY[outChannels, samples·L]
                        var dy = gradOutput.Storage;
                        int dyOffset = gradOutput.Offset;
                        ForSamples(count, outChannels * outPlane, s =>
                        {
                            for (int o = 0; o < outChannels; o++)
                            {
                                dy.AsSpan(dyOffset + ((n0 + s) * outChannels + o) * outPlane, outPlane)
                                    .CopyTo(gradProducts.AsSpan(o * width + s * outPlane, outPlane));
                            }
                        });
                        if (gradWeight is not null)
                        {
                            UnfoldChunk(input, n0, count, columns);
                            for (int g = 0; g < groups; g++)
                            {
                                // dW_g[groupOut, groupRows] += dY_g[groupOut, samples·L] · cols_g[groupRows, samples·L]ᵀ
                                Gemm.Multiply(
                                    gradProducts.AsSpan(g * groupOut * width, groupOut * width),
                                    columns.AsSpan(g * groupRows * width, groupRows * width),
                                    groupOut, groupRows, width, false, true, true,
                                    gradWeight.AsSpan().Slice(g * groupOut * groupRows, groupOut * groupRows));
                            }
                        }
                        if (gradInput is not null)
                        {
                            for (int g = 0; g < groups; g++)
                            {
                                // dcols_g[groupRows, samples·L] = W_g[groupOut, groupRows]ᵀ · dY_g[groupOut, samples·L]
                                Gemm.Multiply(
                                    weight.Data.Slice(g * groupOut * groupRows, groupOut * groupRows),
                                    gradProducts.AsSpan(g * groupOut * width, groupOut * width),
                                    groupRows, width, groupOut, true, false, false,
                                    columns.AsSpan(g * groupRows * width, groupRows * width));
                            }
                            FoldChunk(columns, n0, count, channels, gradInput);
                        }
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(columns);
                    ArrayPool<float>.Shared.Return(gradProducts);
                }
            }
            Tensor? gradBias = hasBias && NeedsInputGrad[2] ? BiasGradient(gradOutput, outChannels) : null;
            return hasBias ? [gradInput, gradWeight, gradBias] : [gradInput, gradWeight];
        }

        // Samples per chunk: as many as keep the column and product buffers within ColumnBudget floats, at least one.
        private int ChunkSize(int columnRows, int outChannels) =>
            Math.Max(1, ColumnBudget / Math.Max(1, Math.Max(columnRows, outChannels) * window.OutPlane));

        // cols[r, s·L + l] = unfold(input[n0 + s])[r, l] for the chunk's samples.
        private void UnfoldChunk(Tensor input, int n0, int count, float[] columns)
        {
            int channels = input.Size(1), plane = window.Plane, outPlane = window.OutPlane;
            int columnRows = channels * window.KernelArea, width = count * outPlane;
            var x = input.Storage;
            int offset = input.Offset;
            ForSamples(count, columnRows * outPlane, s =>
            {
                float[] sample = ArrayPool<float>.Shared.Rent(columnRows * outPlane);
                try
                {
                    Im2Col.Unfold(x.AsSpan(offset + (n0 + s) * channels * plane, channels * plane), channels, window, sample);
                    for (int r = 0; r < columnRows; r++)
                    {
                        sample.AsSpan(r * outPlane, outPlane).CopyTo(columns.AsSpan(r * width + s * outPlane, outPlane));
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(sample);
                }
            });
        }

        // gradInput[n0 + s] = fold(dcols[:, s·L .. s·L + L]) for the chunk's samples.
        private void FoldChunk(float[] columns, int n0, int count, int channels, Tensor gradInput)
        {
            int plane = window.Plane, outPlane = window.OutPlane;
            int columnRows = channels * window.KernelArea, width = count * outPlane;
            var dx = gradInput.Storage;
            ForSamples(count, columnRows * outPlane, s =>
            {
                float[] sample = ArrayPool<float>.Shared.Rent(columnRows * outPlane);
                try
                {
                    for (int r = 0; r < columnRows; r++)
                    {
                        columns.AsSpan(r * width + s * outPlane, outPlane).CopyTo(sample.AsSpan(r * outPlane, outPlane));
                    }
                    Im2Col.Fold(sample, channels, window, dx.AsSpan((n0 + s) * channels * plane, channels * plane));
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(sample);
                }
            });
        }

        private static void ForSamples(int count, long workPerSample, Action<int> body) =>
            Parallelism.For(count, workPerSample, (_, start, end) =>
            {
                for (int s = start; s < end; s++)
                {
                    body(s);
                }
            });

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
