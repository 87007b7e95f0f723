using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>
/// The input gradient of a strided convolution (a transposed convolution) as one stride-1 convolution of the output
/// gradient per stride phase of the input, the "sub-pixel" decomposition: every product runs on the implicit-GEMM
/// tiles of <see cref="ImplicitConv"/>, and nothing is unfolded or folded back.
/// </summary>
/// <remarks>
/// Input row a + s·m (phase a of the rows, stride s, padding p, dilation d) receives dy row oy from tap i exactly when
/// s·oy − p + i·d = a + s·m, so the taps of phase a are those with (a + p − i·d) divisible by s, each reading dy row
/// m + e with e = (a + p − i·d) / s: a stride-1 correlation of dy with those taps (at stride 2 and a 3x3 kernel: one
/// tap for even rows, two for odd ones). Likewise for columns; phase (a, b) is the product of both.
/// <para>
/// The previous path multiplied Wᵀ · dy[n] into a column matrix nine times a sample for a 3x3 kernel and added it back
/// into dx element by element (col2im); the GEMM's depth was only the output channels, so writing its product cost more
/// than computing it. At batch 128, alternating the two builds: 16→32 channels with stride 2 at 32x32 7.6-7.8 → 3.4-4.9
/// ms (libtorch 15-19 ms), 32→64 at 16x16 4.7-5.6 → 2.7-3.1 ms, 1x1 with stride 2 1.7-2.3 → 1.2-1.4 ms.
/// </para>
/// </remarks>
internal static unsafe class SubPixelConv
{
    /// <summary>
    /// dx [batch, channels, H, W] = the input gradient of the convolution with <paramref name="window"/> (any stride,
    /// padding and dilation) and <paramref name="weight"/> [outChannels, channels / groups, kH, kW], from dy [batch,
    /// outChannels, outH, outW]; dx is overwritten.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InputGradient(
        float[] dy, int dyOffset, int batch, Window2d window, ReadOnlySpan<float> weight, int outChannels, int channels, int groups,
        float[] dx, int dxOffset, SimdWidth width = SimdWidth.Auto)
    {
        width = Simd.ResolveMultiplyAdd(width);
        int inputLength = channels * window.Plane, outputLength = outChannels * window.OutPlane;
        if (window.OutHeight <= 0 || window.OutWidth <= 0)
        {
            dx.AsSpan(dxOffset, batch * inputLength).Clear();
            return;
        }
        var rowPhases = Phases(window.Height, window.OutHeight, window.KernelHeight, window.StrideHeight, window.PaddingHeight, window.DilationHeight);
        var columnPhases = Phases(window.Width, window.OutWidth, window.KernelWidth, window.StrideWidth, window.PaddingWidth, window.DilationWidth);
        int padHeight = rowPhases.Max(phase => phase.Padding), padWidth = columnPhases.Max(phase => phase.Padding);
        // dy padded so that every tap of every phase reads inside it: a stride-1 image over dy whose rows are
        // OW + padWidth floats apart (a row's right padding is the next row's left padding).
        var layout = new ConvImage(new Window2d(window.OutHeight, window.OutWidth, padHeight + 1, padWidth + 1, 1, 1, padHeight, padWidth), outChannels);
        int groupChannels = channels / groups, groupOut = outChannels / groups;
        int rowWidth = layout.PhaseWidth;
        var plans = new PhasePlan[rowPhases.Length, columnPhases.Length];
        int imageLength = layout.Length, leading = ConvImage.TileColumns;
        try
        {
            for (int a = 0; a < rowPhases.Length; a++)
            {
                for (int b = 0; b < columnPhases.Length; b++)
                {
                    var plan = plans[a, b] = new PhasePlan(rowPhases[a], columnPhases[b], layout, weight, window.KernelWidth, outChannels, groupChannels, groups);
                    imageLength = Math.Max(imageLength, plan.LastOffset + rowPhases[a].Count * rowWidth + ConvImage.TileColumns);
                    leading = Math.Max(leading, rowPhases[a].Count * rowWidth + ConvImage.TileColumns);
                }
            }
            long work = (long)channels * groupOut * window.KernelArea * window.OutPlane;
            int phaseRows = rowPhases.Length, items = batch * phaseRows;
            int workers = Parallelism.Workers(work * batch);
            // Items are (sample, row phase): each computes its row phase's column phases, then writes those dx rows.
            Parallelism.ForRanges(items, Parallelism.BalancedRanges(items, workers), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (_, start, end) =>
            {
                float[] imageBuffer = Scratch.RentCleared(imageLength);
                float[] positionBuffer = ArrayPool<float>.Shared.Rent(columnPhases.Length * channels * leading);
                try
                {
                    var image = imageBuffer.AsSpan(0, imageLength);
                    fixed (float* imageBase = imageBuffer, positions = positionBuffer, gradInput = dx)
                    {
                        int filled = -1;
                        for (int item = start; item < end; item++)
                        {
                            int n = item / phaseRows, a = item % phaseRows;
                            if (rowPhases[a].Count == 0)
                            {
                                continue;
                            }
                            if (rowPhases[a].Taps.Length > 0)
                            {
                                if (n != filled)
                                {
                                    layout.Fill(dy.AsSpan(dyOffset + n * outputLength, outputLength), image);
                                    filled = n;
                                }
                                for (int b = 0; b < columnPhases.Length; b++)
                                {
                                    plans[a, b].Multiply(width, imageBase, rowPhases[a].Count * rowWidth, positions + (long)b * channels * leading, leading);
                                }
                            }
                            WriteRows(positions, leading, rowWidth, channels, a, rowPhases[a], columnPhases, window,
                                gradInput + dxOffset + (long)n * inputLength);
                        }
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(imageBuffer);
                    ArrayPool<float>.Shared.Return(positionBuffer);
                }
            });
        }
        finally
        {
            foreach (var plan in plans)
            {
                plan?.Dispose();
            }
        }
    }

    /// <summary>
    /// Phase a of one axis: input indices a + stride·m for m &lt; <see cref="Count"/>, each the sum over
    /// <see cref="Taps"/> (kernel index, dy shift e) of w[tap] · dy[m + e]; <see cref="Padding"/> is how far those reads
    /// reach outside dy.
    /// </summary>
    internal readonly record struct Phase(int Count, (int Tap, int Shift)[] Taps, int Padding);

    /// <summary>The stride phases of one axis of a convolution: input size, output size, kernel, stride, padding, dilation.</summary>
    internal static Phase[] Phases(int size, int outSize, int kernel, int stride, int padding, int dilation)
    {
        var phases = new Phase[stride];
        for (int a = 0; a < stride; a++)
        {
            int count = size > a ? (size - a + stride - 1) / stride : 0;
            var taps = new List<(int, int)>();
            int reach = 0;
            for (int i = 0; i < kernel; i++)
            {
                int offset = a + padding - i * dilation;
                if (offset % stride != 0)
                {
                    continue;
                }
                int shift = offset / stride;
                // Reads dy[m + shift] for m in [0, count): below 0 and at outSize or beyond are padding.
                reach = Math.Max(reach, Math.Max(-shift, count == 0 ? 0 : count + shift - outSize));
                taps.Add((i, shift));
            }
            phases[a] = new Phase(count, [.. taps], reach);
        }
        return phases;
    }

    /// <summary>
    /// dx[c, a + sH·m, b + sW·x] = positions of column phase b [c, m·rowWidth + x], for the rows m of row phase
    /// <paramref name="a"/> (<paramref name="rows"/>) of one sample: the column phases interleaved (at stride 2 through registers),
    /// those without taps written as zeros.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteRows(
        float* positions, int leading, int rowWidth, int channels, int a, Phase rows, Phase[] columnPhases, in Window2d window, float* dx)
    {
        int width = window.Width, plane = window.Plane, strideWidth = window.StrideWidth;
        bool zeros = rows.Taps.Length == 0 || Array.TrueForAll(columnPhases, phase => phase.Taps.Length == 0);
        bool pairs = strideWidth == 2 && Avx.IsSupported;
        for (int c = 0; c < channels; c++)
        {
            for (int m = 0; m < rows.Count; m++)
            {
                float* to = dx + (long)c * plane + (long)(a + window.StrideHeight * m) * width;
                long from = (long)c * leading + (long)m * rowWidth;
                if (zeros)
                {
                    new Span<float>(to, width).Clear();
                }
                else if (pairs)
                {
                    float* even = positions + from, odd = positions + (long)channels * leading + from;
                    bool evenTaps = columnPhases[0].Taps.Length > 0, oddTaps = columnPhases[1].Taps.Length > 0;
                    for (int x = 0; x < width; x += 16)
                    {
                        // An odd width's last odd column reads a junk position, which the masked store drops.
                        WinogradF2.StoreInterleaved(evenTaps ? Vector256.Load(even + x / 2) : default, oddTaps ? Vector256.Load(odd + x / 2) : default,
                            to + x, Math.Min(16, width - x));
                    }
                }
                else
                {
                    for (int b = 0; b < columnPhases.Length; b++)
                    {
                        float* source = positions + (long)b * channels * leading + from;
                        bool taps = columnPhases[b].Taps.Length > 0;
                        for (int x = 0; x < columnPhases[b].Count; x++)
                        {
                            to[b + strideWidth * x] = taps ? source[x] : 0f;
                        }
                    }
                }
            }
        }
    }

    /// <summary>One phase (a, b): its offsets into the padded dy image and its weights packed for the forward tiles.</summary>
    private sealed class PhasePlan : IDisposable
    {
        private readonly int[] offsets;
        private readonly ImplicitConv.PackedWeight? packed;
        private readonly int groupDepth;

        public PhasePlan(
            Phase rows, Phase columns, ConvImage layout, ReadOnlySpan<float> weight, int kernelWidth, int outChannels, int groupChannels, int groups)
        {
            var window = layout.Window;
            int taps = rows.Taps.Length * columns.Taps.Length, groupOut = outChannels / groups;
            groupDepth = groupOut * taps;
            offsets = new int[outChannels * taps];
            if (taps == 0)
            {
                return;
            }
            // Column-matrix row (o, i, j) of the phase reads dy[o, m + e_i, x + f_j]: padded image row m + e_i + padHeight.
            int row = 0;
            for (int o = 0; o < outChannels; o++)
            {
                foreach (var (_, e) in rows.Taps)
                {
                    foreach (var (_, f) in columns.Taps)
                    {
                        LastOffset = offsets[row++] = o * layout.ChannelStride + (e + window.PaddingHeight) * layout.PhaseWidth + f + window.PaddingWidth;
                    }
                }
            }
            // The phase's weight [groups·groupChannels, groupDepth]: element (c, (o, i, j)) = weight[g·og + o, c, tap i, tap j].
            var matrix = ArrayPool<float>.Shared.Rent(groups * groupChannels * groupDepth);
            try
            {
                int area = weight.Length / (outChannels * groupChannels);
                for (int g = 0; g < groups; g++)
                {
                    for (int c = 0; c < groupChannels; c++)
                    {
                        int k = (g * groupChannels + c) * groupDepth;
                        for (int o = 0; o < groupOut; o++)
                        {
                            var filter = weight.Slice(((g * groupOut + o) * groupChannels + c) * area, area);
                            foreach (var (i, _) in rows.Taps)
                            {
                                foreach (var (j, _) in columns.Taps)
                                {
                                    matrix[k++] = filter[i * kernelWidth + j];
                                }
                            }
                        }
                    }
                }
                packed = ImplicitConv.PackWeight(matrix.AsSpan(0, groups * groupChannels * groupDepth), groups, groupChannels, groupDepth);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(matrix);
            }
        }

        /// <summary>The largest offset: a tile of positions may read up to it + positions + 32.</summary>
        public int LastOffset { get; }

        /// <summary>positions[c, q] = Σ_(o,i,j) w · image[offsets[(o, i, j)] + q] for q &lt; <paramref name="count"/>, per group.</summary>
        public void Multiply(SimdWidth width, float* image, int count, float* positions, int leading)
        {
            if (packed is null)
            {
                return;
            }
            fixed (float* weights = packed.Buffer)
            fixed (int* offsetBase = offsets)
            {
                for (int g = 0; g < packed.Groups; g++)
                {
                    ImplicitConv.MultiplyGroup(width, weights + packed.GroupOffset(g), packed.Rows, groupDepth, image, offsetBase + g * groupDepth,
                        0, count, positions + (long)g * packed.Rows * leading, leading);
                }
            }
        }

        public void Dispose() => packed?.Dispose();
    }
}
