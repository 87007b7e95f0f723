using System.Buffers;
using System.Runtime.CompilerServices;

namespace NormSharp.Kernels;

/// <summary>
/// Convolution forward and weight gradient as implicit GEMMs (<see cref="ConvImage"/>, <see cref="ImplicitGemm"/>),
/// threaded over samples. The input gradient of a stride-1 convolution is a forward convolution too (of the output
/// gradient with the flipped, transposed weight: <see cref="FlipWeight"/>), so it runs on the same path.
/// </summary>
/// <remarks>
/// Each range of samples (six a thread, shrinking, handed out as threads come free: <see cref="Parallelism.ShrinkingRange"/>;
/// the weight gradient's ranges each sum into a buffer of their own, so it takes fewer when those buffers would be
/// large) fills one image per sample in a buffer of its own that stays in the core's L2; the previous path unfolded each
/// sample into a column matrix (nine times the sample for a 3x3 kernel) and then packed that matrix again for the GEMM,
/// two passes that cost more than the multiply-adds at 16-64 channels.
/// With fewer samples than cores, a sample's output rows are split between threads instead.
/// </remarks>
internal static unsafe class ImplicitConv
{
    /// <summary>
    /// Depth blocks of at most this many rows of the column matrix: the image rows one tile of positions reads (320 x 128
    /// bytes) stay close to L1 while every strip of the weight passes over them. Blocks of 768 ran 15% slower at 64
    /// channels (depth 576), blocks of 192 10% slower at 32 (two blocks of 144 instead of one of 288).
    /// </summary>
    private const int MaxDepthBlock = 320;

    /// <summary>
    /// Depth blocks of at most this many rows for images of at least <see cref="LargeImagePositions"/> positions, whose
    /// tiles wander over more image rows than a 32 KiB L1 keeps beside a weight strip. Forward, in one process on the
    /// 2-core Cascade Lake VM against blocks of 320: 64 channels at 28x28 3-11% faster, at 56x56 11%, 32 at 32x32 4-10%,
    /// 32 at 28x28 3%; at 8x8-16x16 images they were up to 6% slower, so smaller images keep blocks of 320.
    /// </summary>
    private const int LargeImageDepthBlock = 160;

    /// <summary>Positions a call multiplies (output rows times the padded row width) from which an image counts as large.</summary>
    private const int LargeImagePositions = 512;

    /// <summary>
    /// Positions a weight-gradient tile sums over at a time (the positions split into equal blocks of about this many):
    /// a block's output gradient panel (64 x 128 bytes) then stays in L1 while every strip of image rows passes over it,
    /// where a panel of all positions streamed from L2 once per strip. On the 32 KiB-L1 VM, in one process against whole
    /// rows of positions: 64 channels at 28x28 13% faster, 56x56 20%, 32 at 14x14 15%, 32x32 13%, 16x16 4-8%, 16 at
    /// 32x32 9%; 8x8 (72 positions, one block either way) unchanged. Blocks of about 48 or 96 were at most as fast.
    /// </summary>
    private const int GradientPositionBlock = 64;

    /// <summary>The most floats of per-range weight-gradient buffers (<see cref="SumOverSampleRanges"/>): 4 MiB.</summary>
    private const long MaxPartialFloats = 1L << 20;

    /// <summary>
    /// Floats of the per-range weight-gradient buffers each thread adds up at a time (in range order, so the sums do not
    /// depend on the threads). Against adding them on the calling thread alone: 2.6-3.8% of the weight gradient faster
    /// at 64 channels (8x8, 28x28) and 32 (32x32) in one run, the same in another.
    /// </summary>
    private const int SumChunk = 4096;

    /// <summary>
    /// y[n, g·og + r] = Σ_k weights[g][r, k] · columns(x[n])[g·kg + k, ·] (+ bias) for every sample and group: x
    /// [batch, channels, height, width] as <paramref name="layout"/> describes one sample, y [batch, groups·og, outH,
    /// outW]; <paramref name="weights"/> holds each group's [og, kg] matrix as <see cref="PackWeight"/> packs it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(
        float[] x, int xOffset, int batch, ConvImage layout, PackedWeight weights, float[]? bias, float[] y, int yOffset,
        SimdWidth width = SimdWidth.Auto)
    {
        width = Simd.ResolveMultiplyAdd(width);
        int groupOut = weights.Rows, groupDepth = weights.Depth, outChannels = weights.Groups * groupOut;
        int inputLength = layout.Channels * layout.Window.Plane, outputLength = outChannels * layout.Window.OutPlane;
        int outHeight = layout.Window.OutHeight;
        int leading = layout.Positions + ConvImage.TileColumns;
        int workers = Parallelism.Workers((long)batch * outChannels * groupDepth * layout.Positions);
        // With fewer samples than workers, each sample's output rows are split into chunks (each filling its own image).
        int chunks = batch >= workers ? 1 : Math.Min(outHeight, DivideUp(workers, Math.Max(batch, 1)));
        int items = batch * chunks;
        Parallelism.ForRanges(items, Parallelism.BalancedRanges(items, workers), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (_, start, end) =>
        {
            float[] imageBuffer = ArrayPool<float>.Shared.Rent(layout.Length);
            float[] positionBuffer = ArrayPool<float>.Shared.Rent(outChannels * leading);
            try
            {
                imageBuffer.AsSpan(0, layout.Length).Clear();
                fixed (float* image = imageBuffer, positions = positionBuffer, packed = weights.Buffer)
                fixed (int* offsets = layout.Offsets)
                {
                    int filled = -1;
                    for (int item = start; item < end; item++)
                    {
                        int n = item / chunks, chunk = item % chunks;
                        if (n != filled)
                        {
                            layout.Fill(x.AsSpan(xOffset + n * inputLength, inputLength), imageBuffer);
                            filled = n;
                        }
                        int firstRow = outHeight * chunk / chunks, endRow = outHeight * (chunk + 1) / chunks;
                        for (int g = 0; g < weights.Groups; g++)
                        {
                            MultiplyGroup(width, packed + weights.GroupOffset(g), groupOut, groupDepth, image, offsets + g * groupDepth,
                                firstRow * layout.PhaseWidth, endRow * layout.PhaseWidth, positions + (long)g * groupOut * leading, leading);
                        }
                        layout.Extract(positionBuffer, leading, outChannels, firstRow, endRow, bias,
                            y.AsSpan(yOffset + n * outputLength, outputLength));
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

    // positions[r, q] = Σ_k packed[r, k] · image[offsets[k] + q] for one group's rows and the positions [first, end), in
    // the Goto order: per depth block, a tile of the image (depth x columns) meets every row strip of the weight.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MultiplyGroup(
        SimdWidth width, float* packed, int rows, int depth, float* image, int* offsets, int first, int end, float* positions, int leading)
    {
        int columns = ImplicitGemm.Columns(width);
        int blocks = DivideUp(depth, end - first >= LargeImagePositions ? LargeImageDepthBlock : MaxDepthBlock);
        for (int block = 0; block < blocks; block++)
        {
            int p0 = depth * block / blocks, blockDepth = depth * (block + 1) / blocks - p0;
            for (int q = first; q < end; q += columns)
            {
                // A last half tile of Vector512 positions runs at half the cost of a whole one.
                bool half = width == SimdWidth.Vector512 && end - q <= 16;
                for (int r = 0, height; r < rows; r += height)
                {
                    // A strip of `height` rows starting at row r starts at r·depth (the strips above hold r rows).
                    height = ImplicitGemm.StripHeight(rows - r);
                    float* strip = packed + ((long)r * depth + p0 * height), tile = positions + (long)r * leading + q;
                    int stripRows = Math.Min(height, rows - r);
                    if (half)
                    {
                        ImplicitGemm.ForwardHalfTile(strip, height, image + q, offsets + p0, blockDepth, tile, leading, stripRows, accumulate: block > 0);
                    }
                    else
                    {
                        ImplicitGemm.ForwardTile(width, strip, height, image + q, offsets + p0, blockDepth, tile, leading, stripRows, accumulate: block > 0);
                    }
                }
            }
        }
    }

    /// <summary>
    /// gradWeight[g·og + o, k] = Σ_n Σ_q columns(x[n])[g·kg + k, q] · dy[n, g·og + o, q]: the weight gradient
    /// [outChannels, channels / groups · kH · kW] of a convolution with this <paramref name="layout"/>, overwritten.
    /// Each range of samples sums into its own buffer; the buffers are added in range order, so the result does not
    /// depend on thread timing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightGradient(
        float[] x, int xOffset, float[] dy, int dyOffset, int batch, ConvImage layout, int groups, int outChannels, Span<float> gradWeight,
        SimdWidth width = SimdWidth.Auto)
    {
        width = Simd.ResolveMultiplyAdd(width);
        int groupOut = outChannels / groups, groupDepth = layout.Offsets.Length / groups;
        if (groupDepth < groupOut)
        {
            // Fewer column rows than output channels (a first layer on one to three channels): unfolding the columns
            // writes less than transposing dy would, and a GEMM takes dy as it is.
            UnfoldedWeightGradient(x, xOffset, dy, dyOffset, batch, layout, groups, outChannels, gradWeight, width);
            return;
        }
        // Twelve rows a tile where they come in triples (3-wide kernel rows at stride 1), else six.
        bool triples = width == SimdWidth.Vector512 && groupDepth % 3 == 0 && ImplicitGemm.HasTriples(layout.Offsets);
        int tileRows = triples ? ImplicitGemm.TripleRows : ImplicitGemm.GradientRows;
        // Up to 16 output channels fill half of a 32-column tile: 16 columns waste nothing. Six-row tiles of 16 columns run
        // at Vector256 (a 12x16 Vector512 tile of twelve separate rows was slower: twelve pointers do not fit the
        // registers, and its twelve broadcasts a step left the loads the limit); triples at Vector512, one vector a row.
        bool narrow = width == SimdWidth.Vector512 && groupOut <= 16 && Simd.IsSupported(SimdWidth.Vector256);
        SimdWidth sixRowWidth = narrow ? SimdWidth.Vector256 : width;
        int columns = narrow ? 16 : ImplicitGemm.Columns(width);
        int paddedOut = RoundUp(groupOut, columns);
        int inputLength = layout.Channels * layout.Window.Plane, outPlane = layout.Window.OutPlane, outputLength = outChannels * outPlane;
        int positionBlock = DivideUp(layout.Positions, Math.Max(1, (int)Math.Round((double)layout.Positions / GradientPositionBlock)));
        // Sums transposed, [groups][groupDepth][paddedOut], as the tiles write them.
        float[] total = SumOverSampleRanges(batch, (long)outChannels * groupDepth * layout.Positions, groups * groupDepth * paddedOut, (start, end, partialSums) =>
        {
            float[] imageBuffer = ArrayPool<float>.Shared.Rent(layout.Length);
            float[] gradientBuffer = ArrayPool<float>.Shared.Rent(layout.Positions * paddedOut);
            try
            {
                // Padding, junk positions and columns past groupOut are written by nobody: zero once for all samples.
                imageBuffer.AsSpan(0, layout.Length).Clear();
                gradientBuffer.AsSpan(0, layout.Positions * paddedOut).Clear();
                fixed (float* image = imageBuffer, gradient = gradientBuffer, partial = partialSums)
                fixed (int* offsets = layout.Offsets)
                {
                    for (int n = start; n < end; n++)
                    {
                        layout.Fill(x.AsSpan(xOffset + n * inputLength, inputLength), imageBuffer);
                        for (int g = 0; g < groups; g++)
                        {
                            layout.GatherTransposed(dy.AsSpan(dyOffset + n * outputLength + g * groupOut * outPlane, groupOut * outPlane),
                                groupOut, paddedOut, gradientBuffer);
                            // partial[g][k, o] += Σ_q image[offsets[k] + q] · gradient[q, o]: per block of positions, a panel of
                            // outputs against every strip of rows.
                            for (int q = 0; q < layout.Positions; q += positionBlock)
                            {
                                int count = Math.Min(positionBlock, layout.Positions - q);
                                for (int o = 0; o < paddedOut; o += columns)
                                {
                                    float* panel = gradient + (long)q * paddedOut + o;
                                    for (int k = 0; k < groupDepth; k += tileRows)
                                    {
                                        int rows = Math.Min(tileRows, groupDepth - k);
                                        int* tileOffsets = offsets + g * groupDepth + k;
                                        float* sums = partial + ((long)g * groupDepth + k) * paddedOut + o;
                                        if (rows > ImplicitGemm.GradientRows)
                                        {
                                            ImplicitGemm.TripleGradientTile(narrow, image + q, tileOffsets, rows, count, panel, paddedOut, sums, paddedOut);
                                        }
                                        else
                                        {
                                            ImplicitGemm.GradientTile(sixRowWidth, image + q, tileOffsets, rows, count, panel, paddedOut, sums, paddedOut);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(imageBuffer);
                ArrayPool<float>.Shared.Return(gradientBuffer);
            }
        });
        for (int g = 0; g < groups; g++)
        {
            for (int o = 0; o < groupOut; o++)
            {
                var row = gradWeight.Slice((g * groupOut + o) * groupDepth, groupDepth);
                for (int k = 0; k < groupDepth; k++)
                {
                    row[k] = total[(g * groupDepth + k) * paddedOut + o];
                }
            }
        }
        ArrayPool<float>.Shared.Return(total);
    }

    // The weight gradient through an unfolded column matrix per sample (Im2Col) and dW_g += dy[n]_g · columns_gᵀ.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnfoldedWeightGradient(
        float[] x, int xOffset, float[] dy, int dyOffset, int batch, ConvImage layout, int groups, int outChannels, Span<float> gradWeight, SimdWidth width)
    {
        var window = layout.Window;
        int groupOut = outChannels / groups, groupDepth = layout.Offsets.Length / groups, outPlane = window.OutPlane;
        int inputLength = layout.Channels * window.Plane, outputLength = outChannels * outPlane, columnLength = layout.Offsets.Length * outPlane;
        long work = (long)outChannels * groupDepth * outPlane;
        // One range (a small batch): the GEMMs use the threads instead.
        int gemmWorkers = Parallelism.RangeCount(batch, work) < Parallelism.Threads ? int.MaxValue : 1;
        float[] total = SumOverSampleRanges(batch, work, outChannels * groupDepth, (start, end, partial) =>
        {
            float[] columns = ArrayPool<float>.Shared.Rent(Math.Max(1, columnLength));
            try
            {
                for (int n = start; n < end; n++)
                {
                    Im2Col.Unfold(x.AsSpan(xOffset + n * inputLength, inputLength), layout.Channels, window, columns.AsSpan(0, columnLength));
                    for (int g = 0; g < groups; g++)
                    {
                        Gemm.Multiply(dy.AsSpan(dyOffset + n * outputLength + g * groupOut * outPlane, groupOut * outPlane),
                            columns.AsSpan(g * groupDepth * outPlane, groupDepth * outPlane), groupOut, groupDepth, outPlane,
                            false, true, true, partial.AsSpan(g * groupOut * groupDepth, groupOut * groupDepth), width, gemmWorkers);
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(columns);
            }
        });
        total.AsSpan(0, outChannels * groupDepth).CopyTo(gradWeight);
        ArrayPool<float>.Shared.Return(total);
    }

    /// <summary>
    /// Runs <paramref name="body"/>(start, end, partial) on ranges of samples, each adding into a cleared buffer of
    /// <paramref name="length"/> floats of its own, and returns the buffers' sum, added in range order (a rented array:
    /// return it to <see cref="ArrayPool{T}.Shared"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float[] SumOverSampleRanges(int batch, long workPerSample, int length, Action<int, int, float[]> body)
    {
        int threads = Parallelism.RangeCount(batch, workPerSample);
        // Balanced ranges while their buffers stay small: with one range a thread, the thread that finished first waited
        // a median 8-12% of the call for the other (16 samples of 64 channels at 28x28 on the 2-vCPU VM; 3-9% at batch
        // 128).
        int perThread = (int)Math.Clamp(MaxPartialFloats / Math.Max(1L, (long)length * threads), 1, Parallelism.RangesPerThread);
        int ranges = Parallelism.BalancedRanges(batch, threads, perThread);
        var partials = new float[Math.Max(1, ranges)][];
        try
        {
            for (int r = 0; r < partials.Length; r++)
            {
                partials[r] = ArrayPool<float>.Shared.Rent(Math.Max(1, length));
            }
            // Each range clears its own buffer, on its thread (an empty batch runs none: its sum is zero).
            partials[0].AsSpan(0, batch == 0 ? length : 0).Clear();
            Parallelism.ForRanges(batch, ranges, (range, start, end) =>
            {
                partials[range].AsSpan(0, length).Clear();
                body(start, end, partials[range]);
            });
            // The buffers added in range order, element chunks in parallel: the same sums as one thread would make.
            Parallelism.For(DivideUp(length, SumChunk), (long)SumChunk * partials.Length, (_, first, end) =>
            {
                int from = first * SumChunk, count = Math.Min(length, end * SumChunk) - from;
                var total = partials[0].AsSpan(from, count);
                for (int r = 1; r < partials.Length; r++)
                {
                    System.Numerics.Tensors.TensorPrimitives.Add(total, partials[r].AsSpan(from, count), total);
                }
            });
            var sum = partials[0];
            partials[0] = null!;
            return sum;
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

    /// <summary>
    /// Each group's weight [groupOut, depth] of a weight [groups·groupOut, depth] packed for <see cref="Forward"/>: in
    /// strips of <see cref="ImplicitGemm.StripHeight"/> rows (12, or 8 or 6 where 12 would leave a short strip), element (r, k) of the strip of height h
    /// that starts at row r0 at r0·depth + k·h + (r − r0), rows past groupOut zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static PackedWeight PackWeight(ReadOnlySpan<float> weight, int groups, int groupOut, int depth)
    {
        var packed = new PackedWeight(groups, groupOut, depth);
        var buffer = packed.Buffer;
        for (int g = 0; g < groups; g++)
        {
            for (int r = 0, height; r < groupOut; r += height)
            {
                height = ImplicitGemm.StripHeight(groupOut - r);
                for (int o = r; o < Math.Min(groupOut, r + height); o++)
                {
                    var row = weight.Slice((g * groupOut + o) * depth, depth);
                    for (int k = 0; k < depth; k++)
                    {
                        buffer[packed.Element(g, r, height, o, k)] = row[k];
                    }
                }
            }
        }
        return packed;
    }

    /// <summary>
    /// The packed weight of the convolution that computes a stride-1 convolution's input gradient from its output
    /// gradient: per group, flipped[c, (o·kH + i)·kW + j] = weight[g·og + o, c, kH − 1 − i, kW − 1 − j]. (dx[c, y, x] =
    /// Σ_{o,i,j} w[o, c, i, j] · dy[o, y + p − i·d, x + p − j·d], a convolution of dy padded by d·(k − 1) − p.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static PackedWeight FlipWeight(ReadOnlySpan<float> weight, int outChannels, int groupChannels, int kernelArea, int groups)
    {
        int groupOut = outChannels / groups, depth = groupOut * kernelArea;
        var flipped = ArrayPool<float>.Shared.Rent(Math.Max(1, weight.Length));
        try
        {
            for (int g = 0; g < groups; g++)
            {
                for (int c = 0; c < groupChannels; c++)
                {
                    for (int o = 0; o < groupOut; o++)
                    {
                        var source = weight.Slice(((g * groupOut + o) * groupChannels + c) * kernelArea, kernelArea);
                        var destination = flipped.AsSpan(((g * groupChannels + c) * groupOut + o) * kernelArea, kernelArea);
                        for (int t = 0; t < kernelArea; t++)
                        {
                            destination[t] = source[kernelArea - 1 - t];
                        }
                    }
                }
            }
            return PackWeight(flipped.AsSpan(0, weight.Length), groups, groupChannels, depth);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(flipped);
        }
    }

    /// <summary>The weights of all groups packed for <see cref="Forward"/>, in a rented buffer: dispose to return it.</summary>
    internal sealed class PackedWeight : IDisposable
    {
        private float[]? buffer;

        public PackedWeight(int groups, int rows, int depth)
        {
            Groups = groups;
            Rows = rows;
            Depth = depth;
            int paddedRows = 0;
            while (paddedRows < rows)
            {
                paddedRows += ImplicitGemm.StripHeight(rows - paddedRows);
            }
            GroupLength = paddedRows * depth;
            buffer = Scratch.RentCleared(groups * GroupLength + ImplicitGemm.PackSlack);
        }

        public int Groups { get; }

        /// <summary>Rows of each group's matrix (its output channels).</summary>
        public int Rows { get; }

        /// <summary>Columns of each group's matrix (rows of its column matrix).</summary>
        public int Depth { get; }

        private int GroupLength { get; }

        public float[] Buffer => buffer ?? throw new ObjectDisposedException(nameof(PackedWeight));

        public int GroupOffset(int group) => group * GroupLength;

        /// <summary>
        /// Index in <see cref="Buffer"/> of element (row, column) of a group's matrix, in the strip of
        /// <paramref name="stripHeight"/> rows that starts at row <paramref name="stripStart"/>.
        /// </summary>
        public int Element(int group, int stripStart, int stripHeight, int row, int column) =>
            GroupOffset(group) + stripStart * Depth + column * stripHeight + (row - stripStart);

        public void Dispose()
        {
            if (buffer is not null)
            {
                ArrayPool<float>.Shared.Return(buffer);
                buffer = null;
            }
        }
    }

    private static int DivideUp(int value, int divisor) => (value + divisor - 1) / divisor;

    private static int RoundUp(int value, int multiple) => DivideUp(value, multiple) * multiple;
}
