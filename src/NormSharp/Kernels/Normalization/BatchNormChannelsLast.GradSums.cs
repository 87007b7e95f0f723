using System.Runtime.CompilerServices;

namespace NormSharp.Kernels;

/// <summary>
/// Batch normalization, channels last: the backward's per-channel sums Σ g and Σ g (x − center), g the (ReLU-masked)
/// upstream gradient, over blocks of rows (float within a block, double across blocks).
/// </summary>
internal static unsafe partial class BatchNormChannelsLast<TVector, TOps>
    where TVector : struct
    where TOps : struct, ISimdOps<TVector>
{
    // sumGrad[c] += Σ g, sumCentered[c] += Σ g (x − center[c]) over rows [r0, r1); float per block, double across blocks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsGradSums(BatchNormPlan plan, int r0, int r1, double[] sumGrad, double[] sumCentered)
    {
        int channels = plan.Channels;
        int blockRows = BlockRows(channels);
        bool relu = plan.Relu;
        float[] scratch = Scratch.RentCleared(2 * channels);
        try
        {
            fixed (float* buffers = scratch)
            {
                float* center = plan.Center, scale = plan.Scale, shift = plan.Shift;
                float* grads = buffers, products = buffers + channels;
                for (int b0 = r0; b0 < r1; b0 += blockRows)
                {
                    int b1 = Math.Min(r1, b0 + blockRows);
                    BlockGradSums(plan.Input + (long)b0 * channels, plan.GradOutput + (long)b0 * channels, b1 - b0, channels,
                        center, scale, shift, relu, grads, products);
                    for (int c = 0; c < channels; c++)
                    {
                        sumGrad[c] += grads[c];
                        sumCentered[c] += products[c];
                    }
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(scratch);
        }
    }

    // For a block of rows: grads[c] = Σ g and products[c] = Σ g · (x − center[c]) over the block's rows, g the
    // (ReLU-masked) upstream gradient. Rows longer than four vectors go row by row in memory order, the sums in L1
    // (2 · channels floats): x and dy then stream in order, which the hardware prefetchers follow, where a walk down
    // the columns of long rows waited on memory for each row's lines (measured (3136 rows, 512 channels), 2 threads,
    // sums alone: 3.0 -> 1.8 ms). The vector and scalar columns are those of RowsAffine, so the recomputed ReLU mask
    // matches the forward's output exactly.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BlockGradSums(float* x, float* dy, int rows, int channels, float* center, float* scale, float* shift, bool relu,
        float* grads, float* products)
    {
        int width = TOps.Count;
        if (channels <= 4 * width)
        {
            ColumnGradSums(x, dy, rows, channels, center, scale, shift, relu, grads, products);
            return;
        }
        int vectorEnd = channels - channels % width;
        new Span<float>(grads, channels).Clear();
        new Span<float>(products, channels).Clear();
        for (int r = 0; r < rows; r++, x += channels, dy += channels)
        {
            int c = 0;
            for (; c + 2 * width <= vectorEnd; c += 2 * width)
            {
                var e0 = MaskedGradient(x, dy, center, scale, shift, c, relu, out var d0);
                var e1 = MaskedGradient(x, dy, center, scale, shift, c + width, relu, out var d1);
                TOps.Store(grads + c, TOps.Add(TOps.Load(grads + c), e0));
                TOps.Store(grads + c + width, TOps.Add(TOps.Load(grads + c + width), e1));
                TOps.Store(products + c, TOps.MultiplyAdd(e0, d0, TOps.Load(products + c)));
                TOps.Store(products + c + width, TOps.MultiplyAdd(e1, d1, TOps.Load(products + c + width)));
            }
            for (; c < vectorEnd; c += width)
            {
                var e0 = MaskedGradient(x, dy, center, scale, shift, c, relu, out var d0);
                TOps.Store(grads + c, TOps.Add(TOps.Load(grads + c), e0));
                TOps.Store(products + c, TOps.MultiplyAdd(e0, d0, TOps.Load(products + c)));
            }
            for (; c < channels; c++)
            {
                float d = x[c] - center[c];
                float e = relu ? ScalarOps.WherePositive(ScalarOps.MultiplyAdd(d, scale[c], shift[c]), dy[c]) : dy[c];
                grads[c] += e;
                products[c] = ScalarOps.MultiplyAdd(e, d, products[c]);
            }
        }
    }

    // BlockGradSums down the columns, four vectors of columns at a time with the sums in registers: for rows of at
    // most four vectors, which this walks in memory order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnGradSums(float* x, float* dy, int rows, int channels, float* center, float* scale, float* shift, bool relu,
        float* grads, float* products)
    {
        int width = TOps.Count;
        int c = 0;
        for (; c + 4 * width <= channels; c += 4 * width)
        {
            TVector c0 = TOps.Load(center + c), c1 = TOps.Load(center + c + width), c2 = TOps.Load(center + c + 2 * width), c3 = TOps.Load(center + c + 3 * width);
            TVector a0 = TOps.Load(scale + c), a1 = TOps.Load(scale + c + width), a2 = TOps.Load(scale + c + 2 * width), a3 = TOps.Load(scale + c + 3 * width);
            TVector b0 = TOps.Load(shift + c), b1 = TOps.Load(shift + c + width), b2 = TOps.Load(shift + c + 2 * width), b3 = TOps.Load(shift + c + 3 * width);
            TVector g0 = TOps.Zero, g1 = TOps.Zero, g2 = TOps.Zero, g3 = TOps.Zero;
            TVector p0 = TOps.Zero, p1 = TOps.Zero, p2 = TOps.Zero, p3 = TOps.Zero;
            float* px = x + c, pdy = dy + c;
            for (int r = 0; r < rows; r++, px += channels, pdy += channels)
            {
                var d0 = TOps.Subtract(TOps.Load(px), c0);
                var d1 = TOps.Subtract(TOps.Load(px + width), c1);
                var d2 = TOps.Subtract(TOps.Load(px + 2 * width), c2);
                var d3 = TOps.Subtract(TOps.Load(px + 3 * width), c3);
                var e0 = TOps.Load(pdy);
                var e1 = TOps.Load(pdy + width);
                var e2 = TOps.Load(pdy + 2 * width);
                var e3 = TOps.Load(pdy + 3 * width);
                if (relu)
                {
                    e0 = TOps.WherePositive(TOps.MultiplyAdd(d0, a0, b0), e0);
                    e1 = TOps.WherePositive(TOps.MultiplyAdd(d1, a1, b1), e1);
                    e2 = TOps.WherePositive(TOps.MultiplyAdd(d2, a2, b2), e2);
                    e3 = TOps.WherePositive(TOps.MultiplyAdd(d3, a3, b3), e3);
                }
                g0 = TOps.Add(g0, e0);
                g1 = TOps.Add(g1, e1);
                g2 = TOps.Add(g2, e2);
                g3 = TOps.Add(g3, e3);
                p0 = TOps.MultiplyAdd(e0, d0, p0);
                p1 = TOps.MultiplyAdd(e1, d1, p1);
                p2 = TOps.MultiplyAdd(e2, d2, p2);
                p3 = TOps.MultiplyAdd(e3, d3, p3);
            }
            StoreFour(grads + c, g0, g1, g2, g3);
            StoreFour(products + c, p0, p1, p2, p3);
        }
        for (; c + width <= channels; c += width)
        {
            TVector c0 = TOps.Load(center + c), a0 = TOps.Load(scale + c), b0 = TOps.Load(shift + c);
            TVector g0 = TOps.Zero, p0 = TOps.Zero;
            float* px = x + c, pdy = dy + c;
            for (int r = 0; r < rows; r++, px += channels, pdy += channels)
            {
                var d0 = TOps.Subtract(TOps.Load(px), c0);
                var e0 = TOps.Load(pdy);
                if (relu)
                {
                    e0 = TOps.WherePositive(TOps.MultiplyAdd(d0, a0, b0), e0);
                }
                g0 = TOps.Add(g0, e0);
                p0 = TOps.MultiplyAdd(e0, d0, p0);
            }
            TOps.Store(grads + c, g0);
            TOps.Store(products + c, p0);
        }
        for (; c < channels; c++)
        {
            float g = 0, product = 0;
            for (int r = 0; r < rows; r++)
            {
                float d = x[(long)r * channels + c] - center[c];
                float e = dy[(long)r * channels + c];
                e = relu ? ScalarOps.WherePositive(ScalarOps.MultiplyAdd(d, scale[c], shift[c]), e) : e;
                g += e;
                product = ScalarOps.MultiplyAdd(e, d, product);
            }
            grads[c] = g;
            products[c] = product;
        }
    }
}
