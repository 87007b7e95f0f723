using System.Runtime.CompilerServices;

namespace NormSharp.Kernels;

/// <summary>
/// Batch normalization, channels last ([rows, channels], inner = 1; BatchNorm1d on [N, C] and channels-last maps):
/// parallel over blocks of rows, vectors across channels, per-block partial sums merged per channel. The statistics walk
/// down the columns of a cache-resident block of rows with the sums in registers (so do the backward's sums for rows of
/// up to four vectors; longer rows go row by row, see BlockGradSums); outputs are written row by row, in memory order.
/// </summary>
internal static unsafe partial class BatchNormChannelsLast<TVector, TOps>
    where TVector : struct
    where TOps : struct, ISimdOps<TVector>
{
    /// <summary>Floats per block in the channels-last reductions: about 32 KiB of input, so a second pass hits L1.</summary>
    private const int BlockFloats = 8192;

    /// <summary>Largest block (256 KiB, still in L2) when <see cref="MinBlockRows"/> rows need more than <see cref="BlockFloats"/>.</summary>
    private const int MaxBlockFloats = 65536;

    /// <summary>Fewest rows per block: each block ends in per-channel work (a merge of moments), which with hundreds of
    /// channels and 16-row blocks cost more than the pass over the data itself.</summary>
    private const int MinBlockRows = 64;

    /// <summary>Rows per channels-last block for <paramref name="channels"/> channels.</summary>
    private static int BlockRows(int channels)
    {
        channels = Math.Max(1, channels);
        return Math.Max(1, Math.Max(BlockFloats, Math.Min(MaxBlockFloats, MinBlockRows * channels)) / channels);
    }

    public static void Run(BatchNormPlan plan, BatchNormStage stage)
    {
        int rows = plan.Outer;
        int parts = plan.Workers == 1 ? 1 : Math.Clamp(4 * plan.Workers, 1, Math.Max(1, rows));
        switch (stage)
        {
            case BatchNormStage.TrainForward:
            {
                var partial = plan.NewPartials<Moments>(parts);
                Parallelism.ForRanges(rows, parts, (part, start, end) => RowsMoments(plan, start, end, partial[part]));
                plan.SetStatistics(partial);
                Parallelism.ForRanges(rows, parts, (_, start, end) => RowsAffine(plan, start, end));
                break;
            }
            case BatchNormStage.EvalForward:
                plan.SetForwardCoefficients();
                Parallelism.ForRanges(rows, parts, (_, start, end) => RowsAffine(plan, start, end));
                break;

            case BatchNormStage.BackwardWithSums:
            {
                plan.SetForwardCoefficients();
                var grads = plan.NewPartials<double>(parts);
                var products = plan.NewPartials<double>(parts);
                Parallelism.ForRanges(rows, parts, (part, start, end) => RowsGradSums(plan, start, end, grads[part], products[part]));
                plan.SetGradSums(grads, products);
                GradRows(plan, parts);
                break;
            }
            case BatchNormStage.BackwardNoSums:
                plan.SetForwardCoefficients();
                plan.SetBackwardCoefficients();
                GradRows(plan, parts);
                break;
        }
    }

    // dx over all rows, when dx is wanted.
    private static void GradRows(BatchNormPlan plan, int parts)
    {
        if (plan.GradInput is not null)
        {
            Parallelism.ForRanges(plan.Outer, parts, (_, start, end) => RowsGradInput(plan, start, end));
        }
    }

    // Per-channel moments of rows [r0, r1) into moments[c] (empty on entry): blocks of rows reduced exactly in two
    // passes (the block stays in cache), then merged into double moments per channel. Every channel has the same count,
    // so Chan's merge weights are two scalars per block and the per-channel merge is a few multiply-adds. A column
    // whose float sums overflowed is reduced again in double (see MomentKernels).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsMoments(BatchNormPlan plan, int r0, int r1, Moments[] moments)
    {
        int channels = plan.Channels;
        double count = 0;
        int blockRows = BlockRows(channels);
        float[] scratch = Scratch.RentCleared(3 * channels);
        try
        {
            fixed (float* buffers = scratch)
            {
                float* first = buffers, deviations = buffers + channels, squares = buffers + 2 * channels;
                for (int b0 = r0; b0 < r1; b0 += blockRows)
                {
                    int b1 = Math.Min(r1, b0 + blockRows);
                    int n = b1 - b0;
                    float* block = plan.Input + (long)b0 * channels;
                    BlockMoments(block, n, channels, first, deviations, squares);
                    double total = count + n, inverse = 1.0 / n;
                    double meanWeight = n / total, m2Weight = count * n / total;
                    for (int c = 0; c < channels; c++)
                    {
                        double blockMean = first[c] + deviations[c] * inverse;
                        double blockM2 = Math.Max(0, squares[c] - (double)deviations[c] * deviations[c] * inverse);
                        if (!double.IsFinite(blockMean) || !double.IsFinite(blockM2))
                        {
                            (blockMean, blockM2) = Moments.OfFloats(block + c, n, channels, 1, 0);
                        }
                        double delta = blockMean - moments[c].Mean;
                        moments[c].Mean += delta * meanWeight;
                        moments[c].M2 += blockM2 + delta * delta * m2Weight;
                        moments[c].Count = total;
                    }
                    count = total;
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(scratch);
        }
    }

    // For a block of rows x[rows, channels] (cache-resident): first[c] = the float mean of column c, then
    // deviations[c] = Σ (x − first[c]) and squares[c] = Σ (x − first[c])². Columns go four vectors at a time with the
    // sums in registers, so the loop over rows carries no memory dependence.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BlockMoments(float* x, int rows, int channels, float* first, float* deviations, float* squares)
    {
        int width = TOps.Count;
        float inverse = 1f / rows;
        var scale = TOps.Broadcast(inverse);
        int c = 0;
        for (; c + 4 * width <= channels; c += 4 * width)
        {
            TVector s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
            float* p = x + c;
            for (int r = 0; r < rows; r++, p += channels)
            {
                s0 = TOps.Add(s0, TOps.Load(p));
                s1 = TOps.Add(s1, TOps.Load(p + width));
                s2 = TOps.Add(s2, TOps.Load(p + 2 * width));
                s3 = TOps.Add(s3, TOps.Load(p + 3 * width));
            }
            s0 = TOps.Multiply(s0, scale);
            s1 = TOps.Multiply(s1, scale);
            s2 = TOps.Multiply(s2, scale);
            s3 = TOps.Multiply(s3, scale);
            TVector d0 = TOps.Zero, d1 = TOps.Zero, d2 = TOps.Zero, d3 = TOps.Zero;
            TVector q0 = TOps.Zero, q1 = TOps.Zero, q2 = TOps.Zero, q3 = TOps.Zero;
            // the second pass runs from L1; meanwhile the next block's lines (same columns) are requested
            p = x + c;
            long ahead = (long)rows * channels;
            for (int r = 0; r < rows; r++, p += channels)
            {
                TOps.Prefetch(p + ahead);
                TOps.Prefetch(p + ahead + 16);
                TOps.Prefetch(p + ahead + 32);
                TOps.Prefetch(p + ahead + 48);
                var v0 = TOps.Subtract(TOps.Load(p), s0);
                var v1 = TOps.Subtract(TOps.Load(p + width), s1);
                var v2 = TOps.Subtract(TOps.Load(p + 2 * width), s2);
                var v3 = TOps.Subtract(TOps.Load(p + 3 * width), s3);
                d0 = TOps.Add(d0, v0);
                d1 = TOps.Add(d1, v1);
                d2 = TOps.Add(d2, v2);
                d3 = TOps.Add(d3, v3);
                q0 = TOps.MultiplyAdd(v0, v0, q0);
                q1 = TOps.MultiplyAdd(v1, v1, q1);
                q2 = TOps.MultiplyAdd(v2, v2, q2);
                q3 = TOps.MultiplyAdd(v3, v3, q3);
            }
            StoreFour(first + c, s0, s1, s2, s3);
            StoreFour(deviations + c, d0, d1, d2, d3);
            StoreFour(squares + c, q0, q1, q2, q3);
        }
        for (; c + width <= channels; c += width)
        {
            TVector s0 = TOps.Zero;
            float* p = x + c;
            for (int r = 0; r < rows; r++, p += channels)
            {
                s0 = TOps.Add(s0, TOps.Load(p));
            }
            s0 = TOps.Multiply(s0, scale);
            TVector d0 = TOps.Zero, q0 = TOps.Zero;
            p = x + c;
            for (int r = 0; r < rows; r++, p += channels)
            {
                var v0 = TOps.Subtract(TOps.Load(p), s0);
                d0 = TOps.Add(d0, v0);
                q0 = TOps.MultiplyAdd(v0, v0, q0);
            }
            TOps.Store(first + c, s0);
            TOps.Store(deviations + c, d0);
            TOps.Store(squares + c, q0);
        }
        for (; c < channels; c++)
        {
            float sum = 0;
            for (int r = 0; r < rows; r++)
            {
                sum += x[(long)r * channels + c];
            }
            float mean = sum * inverse;
            float deviation = 0, square = 0;
            for (int r = 0; r < rows; r++)
            {
                float v = x[(long)r * channels + c] - mean;
                deviation += v;
                square = ScalarOps.MultiplyAdd(v, v, square);
            }
            first[c] = mean;
            deviations[c] = deviation;
            squares[c] = square;
        }
    }

    // y = (x − center) · scale + shift (then ReLU) over rows [r0, r1), in memory order: each row's vector columns, two
    // at a time with their coefficients loaded from L1 (3 · channels floats), then its scalar columns. x and y stream
    // in order, which the hardware prefetchers follow; on 64-byte-aligned rows this beat a walk down the columns of
    // blocks of rows (coefficients in registers) at every channel count measured, 32 to 512: e.g. 0.50 vs 0.75 ms for
    // 25088 rows of 256 channels.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsAffine(BatchNormPlan plan, int r0, int r1)
    {
        int channels = plan.Channels;
        int width = TOps.Count;
        int vectorEnd = channels - channels % width;
        bool relu = plan.Relu;
        bool streaming = StreamsRows(plan, plan.Output);
        float* center = plan.Center, scale = plan.Scale, shift = plan.Shift;
        float* x = plan.Input + (long)r0 * channels, y = plan.Output + (long)r0 * channels;
        for (int r = r0; r < r1; r++, x += channels, y += channels)
        {
            int c = 0;
            for (; c + 2 * width <= vectorEnd; c += 2 * width)
            {
                var v0 = TOps.MultiplyAdd(TOps.Subtract(TOps.Load(x + c), TOps.Load(center + c)), TOps.Load(scale + c), TOps.Load(shift + c));
                var v1 = TOps.MultiplyAdd(TOps.Subtract(TOps.Load(x + c + width), TOps.Load(center + c + width)), TOps.Load(scale + c + width), TOps.Load(shift + c + width));
                StreamingStores<TVector, TOps>.Put(y + c, relu ? TOps.Relu(v0) : v0, streaming);
                StreamingStores<TVector, TOps>.Put(y + c + width, relu ? TOps.Relu(v1) : v1, streaming);
            }
            for (; c < vectorEnd; c += width)
            {
                var v0 = TOps.MultiplyAdd(TOps.Subtract(TOps.Load(x + c), TOps.Load(center + c)), TOps.Load(scale + c), TOps.Load(shift + c));
                StreamingStores<TVector, TOps>.Put(y + c, relu ? TOps.Relu(v0) : v0, streaming);
            }
            for (; c < channels; c++)
            {
                float v = ScalarOps.MultiplyAdd(x[c] - center[c], scale[c], shift[c]);
                y[c] = relu ? ScalarOps.Relu(v) : v;
            }
        }
        StreamingStores<TVector, TOps>.End(streaming);
    }

    // At columns [c, c + width): the centred input x − center (out) and the upstream gradient, zeroed where the fused
    // ReLU's output (x − center) · scale + shift is not positive: what the gradient sums and dx both read.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector MaskedGradient(float* x, float* dy, float* center, float* scale, float* shift, int c, bool relu, out TVector centered)
    {
        centered = TOps.Subtract(TOps.Load(x + c), TOps.Load(center + c));
        var gradient = TOps.Load(dy + c);
        return relu ? TOps.WherePositive(TOps.MultiplyAdd(centered, TOps.Load(scale + c), TOps.Load(shift + c)), gradient) : gradient;
    }

    // dx = k · g + beta · (x − center) + gamma over rows [r0, r1), g the (ReLU-masked) upstream gradient; in memory
    // order like RowsAffine, with the same vector and scalar columns (so the recomputed mask matches the forward's y).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsGradInput(BatchNormPlan plan, int r0, int r1)
    {
        int channels = plan.Channels;
        int width = TOps.Count;
        int vectorEnd = channels - channels % width;
        bool relu = plan.Relu;
        bool streaming = StreamsRows(plan, plan.GradInput);
        float* center = plan.Center, scale = plan.Scale, shift = plan.Shift;
        float* k = plan.GradScale, beta = plan.GradBeta, gamma = plan.GradGamma;
        long start = (long)r0 * channels;
        float* x = plan.Input + start, dy = plan.GradOutput + start, dx = plan.GradInput + start;
        for (int r = r0; r < r1; r++, x += channels, dy += channels, dx += channels)
        {
            int c = 0;
            for (; c + 2 * width <= vectorEnd; c += 2 * width)
            {
                var g0 = MaskedGradient(x, dy, center, scale, shift, c, relu, out var d0);
                var g1 = MaskedGradient(x, dy, center, scale, shift, c + width, relu, out var d1);
                StreamingStores<TVector, TOps>.Put(dx + c, TOps.MultiplyAdd(g0, TOps.Load(k + c), TOps.MultiplyAdd(d0, TOps.Load(beta + c), TOps.Load(gamma + c))), streaming);
                StreamingStores<TVector, TOps>.Put(dx + c + width, TOps.MultiplyAdd(g1, TOps.Load(k + c + width), TOps.MultiplyAdd(d1, TOps.Load(beta + c + width), TOps.Load(gamma + c + width))), streaming);
            }
            for (; c < vectorEnd; c += width)
            {
                var g0 = MaskedGradient(x, dy, center, scale, shift, c, relu, out var d0);
                StreamingStores<TVector, TOps>.Put(dx + c, TOps.MultiplyAdd(g0, TOps.Load(k + c), TOps.MultiplyAdd(d0, TOps.Load(beta + c), TOps.Load(gamma + c))), streaming);
            }
            for (; c < channels; c++)
            {
                float d = x[c] - center[c];
                float g = relu ? ScalarOps.WherePositive(ScalarOps.MultiplyAdd(d, scale[c], shift[c]), dy[c]) : dy[c];
                dx[c] = ScalarOps.MultiplyAdd(g, k[c], ScalarOps.MultiplyAdd(d, beta[c], gamma[c]));
            }
        }
        StreamingStores<TVector, TOps>.End(streaming);
    }

    // Four consecutive vectors from destination on.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreFour(float* destination, TVector v0, TVector v1, TVector v2, TVector v3)
    {
        TOps.Store(destination, v0);
        TOps.Store(destination + TOps.Count, v1);
        TOps.Store(destination + 2 * TOps.Count, v2);
        TOps.Store(destination + 3 * TOps.Count, v3);
    }

    // Channels last, non-temporal stores: when the plan streams and every row starts vector-aligned (all columns are
    // vector columns and the destination is aligned; pooled tensors are 64-byte aligned). Otherwise plain stores:
    // the bits are the same either way.
    private static bool StreamsRows(BatchNormPlan plan, float* destination) =>
        plan.Streaming && plan.Channels % TOps.Count == 0 && StreamingStores<TVector, TOps>.Head(destination, TOps.Count) == 0;
}
