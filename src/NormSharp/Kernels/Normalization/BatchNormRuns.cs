using System.Runtime.CompilerServices;

namespace NormSharp.Kernels;

/// <summary>
/// Batch-norm loops over one contiguous run of a channel (a row of a channels-first map), shared by the channels-first
/// schedules: the folded affine y = (x − center) · scale + shift (then ReLU), the backward's sums Σ g and
/// Σ g (x − center), and dx = k · g + beta · (x − center) + gamma, g the upstream gradient (ReLU-masked when fused).
/// Tails (the last length mod width elements) run through <see cref="ScalarOps"/> with the same operations, so a ReLU
/// mask recomputed in the backward matches the forward's output bit for bit.
/// </summary>
internal static unsafe class BatchNormRuns<TVector, TOps>
    where TVector : struct
    where TOps : struct, ISimdOps<TVector>
{
    // Lane sums of g and g · (x − c) over [0..vectorEnd), g = dy, or dy · [(x − c) · s + b > 0] with relu.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (TVector Grads, TVector Products) GradVectorSums(float* dy, float* x, int vectorEnd, TVector c, TVector s, TVector b, bool relu)
    {
        int w = TOps.Count, i = 0;
        TVector g0 = TOps.Zero, g1 = TOps.Zero, p0 = TOps.Zero, p1 = TOps.Zero;
        for (; i <= vectorEnd - 2 * w; i += 2 * w)
        {
            var ga = TOps.Load(dy + i);
            var gb = TOps.Load(dy + i + w);
            var da = TOps.Subtract(TOps.Load(x + i), c);
            var db = TOps.Subtract(TOps.Load(x + i + w), c);
            if (relu)
            {
                ga = TOps.WherePositive(TOps.MultiplyAdd(da, s, b), ga);
                gb = TOps.WherePositive(TOps.MultiplyAdd(db, s, b), gb);
            }
            g0 = TOps.Add(g0, ga);
            g1 = TOps.Add(g1, gb);
            p0 = TOps.MultiplyAdd(ga, da, p0);
            p1 = TOps.MultiplyAdd(gb, db, p1);
        }
        if (i < vectorEnd)
        {
            var g = TOps.Load(dy + i);
            var d = TOps.Subtract(TOps.Load(x + i), c);
            if (relu)
            {
                g = TOps.WherePositive(TOps.MultiplyAdd(d, s, b), g);
            }
            g0 = TOps.Add(g0, g);
            p0 = TOps.MultiplyAdd(g, d, p0);
        }
        return (TOps.Add(g0, g1), TOps.Add(p0, p1));
    }

    // y[i] = (x[i] − center) · scale + shift, then max(·, 0) with relu. With streaming the vector body uses
    // non-temporal stores, which need an aligned address: the elements before the first aligned one take the scalar
    // path, whose FMA rounds exactly as a vector lane does, so a recomputed ReLU mask still matches y bit for bit.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Affine(float* x, float* y, int n, float center, float scale, float shift, bool relu, bool streaming = false)
    {
        int head = streaming ? StreamingStores<TVector, TOps>.Head(y, n) : 0;
        AffineScalar(x, y, 0, head, center, scale, shift, relu);
        int vectorEnd = head + (n - head) / TOps.Count * TOps.Count;
        TVector c = TOps.Broadcast(center), s = TOps.Broadcast(scale), b = TOps.Broadcast(shift);
        for (int i = head; i < vectorEnd; i += TOps.Count)
        {
            var v = TOps.MultiplyAdd(TOps.Subtract(TOps.Load(x + i), c), s, b);
            StreamingStores<TVector, TOps>.Put(y + i, relu ? TOps.Relu(v) : v, streaming);
        }
        AffineScalar(x, y, vectorEnd, n, center, scale, shift, relu);
        StreamingStores<TVector, TOps>.End(streaming);
    }

    private static void AffineScalar(float* x, float* y, int start, int end, float center, float scale, float shift, bool relu)
    {
        for (int i = start; i < end; i++)
        {
            float v = ScalarOps.MultiplyAdd(x[i] - center, scale, shift);
            y[i] = relu ? ScalarOps.Relu(v) : v;
        }
    }

    // sumGrad += Σ g, sumCentered += Σ g · (x − center); g = dy, or dy · [(x − center) · scale + shift > 0] with relu.
    // Float lanes within chunks of ChunkLength, double across chunks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void GradSums(float* dy, float* x, int n, float center, float scale, float shift, bool relu,
        ref double sumGrad, ref double sumCentered)
    {
        TVector c = TOps.Broadcast(center), s = TOps.Broadcast(scale), b = TOps.Broadcast(shift);
        int vectorEnd = n - n % TOps.Count;
        for (int start = 0; start < vectorEnd; start += Moments.ChunkLength)
        {
            int end = Math.Min(vectorEnd, start + Moments.ChunkLength);
            var (grads, products) = GradVectorSums(dy + start, x + start, end - start, c, s, b, relu);
            sumGrad += TOps.Sum(grads);
            sumCentered += TOps.Sum(products);
        }
        for (int i = vectorEnd; i < n; i++)
        {
            float d = x[i] - center;
            float g = relu ? ScalarOps.WherePositive(ScalarOps.MultiplyAdd(d, scale, shift), dy[i]) : dy[i];
            sumGrad += g;
            sumCentered += (double)g * d;
        }
    }

    // GradSums over `segments` runs of `length` floats, `stride` apart (together at most ChunkLength floats), with one
    // float accumulation for all of them; each run splits into vector body and scalar tail exactly as Affine does.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void SegmentGradSums(float* dy, float* x, int length, long stride, int segments,
        float center, float scale, float shift, bool relu, ref double sumGrad, ref double sumCentered)
    {
        TVector c = TOps.Broadcast(center), s = TOps.Broadcast(scale), b = TOps.Broadcast(shift);
        int vectorEnd = length - length % TOps.Count;
        TVector grads = TOps.Zero, products = TOps.Zero;
        double tailGrad = 0, tailProducts = 0;
        for (int segment = 0; segment < segments; segment++, dy += stride, x += stride)
        {
            for (int i = 0; i < length; i += 16)
            {
                TOps.Prefetch(dy + stride + i);
                TOps.Prefetch(x + stride + i);
            }
            var (segmentGrads, segmentProducts) = GradVectorSums(dy, x, vectorEnd, c, s, b, relu);
            grads = TOps.Add(grads, segmentGrads);
            products = TOps.Add(products, segmentProducts);
            for (int i = vectorEnd; i < length; i++)
            {
                float d = x[i] - center;
                float g = relu ? ScalarOps.WherePositive(ScalarOps.MultiplyAdd(d, scale, shift), dy[i]) : dy[i];
                tailGrad += g;
                tailProducts += (double)g * d;
            }
        }
        sumGrad += TOps.Sum(grads) + tailGrad;
        sumCentered += TOps.Sum(products) + tailProducts;
    }

    // dx[i] = k · g + beta · (x[i] − center) + gamma, g as in GradSums; streaming as in Affine.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void GradInput(float* dy, float* x, float* dx, int n, float center, float scale, float shift, bool relu,
        float k, float beta, float gamma, bool streaming = false)
    {
        int head = streaming ? StreamingStores<TVector, TOps>.Head(dx, n) : 0;
        GradInputScalar(dy, x, dx, 0, head, center, scale, shift, relu, k, beta, gamma);
        int vectorEnd = head + (n - head) / TOps.Count * TOps.Count;
        TVector c = TOps.Broadcast(center), s = TOps.Broadcast(scale), b = TOps.Broadcast(shift);
        TVector vk = TOps.Broadcast(k), vBeta = TOps.Broadcast(beta), vGamma = TOps.Broadcast(gamma);
        for (int i = head; i < vectorEnd; i += TOps.Count)
        {
            var g = TOps.Load(dy + i);
            var d = TOps.Subtract(TOps.Load(x + i), c);
            if (relu)
            {
                g = TOps.WherePositive(TOps.MultiplyAdd(d, s, b), g);
            }
            StreamingStores<TVector, TOps>.Put(dx + i, TOps.MultiplyAdd(g, vk, TOps.MultiplyAdd(d, vBeta, vGamma)), streaming);
        }
        GradInputScalar(dy, x, dx, vectorEnd, n, center, scale, shift, relu, k, beta, gamma);
        StreamingStores<TVector, TOps>.End(streaming);
    }

    private static void GradInputScalar(float* dy, float* x, float* dx, int start, int end, float center, float scale, float shift, bool relu,
        float k, float beta, float gamma)
    {
        for (int i = start; i < end; i++)
        {
            float d = x[i] - center;
            float g = relu ? ScalarOps.WherePositive(ScalarOps.MultiplyAdd(d, scale, shift), dy[i]) : dy[i];
            dx[i] = ScalarOps.MultiplyAdd(g, k, ScalarOps.MultiplyAdd(d, beta, gamma));
        }
    }
}
