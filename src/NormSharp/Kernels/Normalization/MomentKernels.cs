using System.Runtime.CompilerServices;

namespace NormSharp.Kernels;

/// <summary>
/// Exact moments of one chunk (at most <see cref="Moments.ChunkLength"/> floats, L1-resident) in two float passes:
/// the float mean, then Σ d and Σ d² with d = x − mean, where Σ d is the mean's rounding error times n (Chan, Golub
/// and LeVeque's correction). Shared by batch normalization and the row norms, written once over
/// <see cref="ISimdOps{TVector}"/> for each vector width. A chunk whose float sums overflow (finite inputs beyond about
/// 1e19) is reduced again in double by <see cref="Moments.OfFloats"/>, so finite input always gets finite statistics.
/// </summary>
internal static unsafe class MomentKernels<TVector, TOps>
    where TVector : struct
    where TOps : struct, ISimdOps<TVector>
{
    /// <summary>Exact (mean, M2) of x[0..n), n at most <see cref="Moments.ChunkLength"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ChunkMoments(float* x, int n, out double mean, out double m2)
    {
        int vectorEnd = n - n % TOps.Count;
        float sum = TOps.Sum(SumVectors(x, vectorEnd));
        for (int i = vectorEnd; i < n; i++)
        {
            sum += x[i];
        }
        float first = n > 0 ? sum / n : 0f;

        // second pass from L1: Σ d and Σ d² with d = x − first; Σ d is first's rounding error times n
        var (deviations, squares) = DeviationSums(x, vectorEnd, TOps.Broadcast(first));
        double sumDeviations = TOps.Sum(deviations), sumSquares = TOps.Sum(squares);
        for (int i = vectorEnd; i < n; i++)
        {
            double d = x[i] - first;
            sumDeviations += d;
            sumSquares += d * d;
        }
        Finish(first, sumDeviations, sumSquares, n, out mean, out m2);
        if (!double.IsFinite(mean) || !double.IsFinite(m2))
        {
            (mean, m2) = Moments.OfFloats(x, n, 1, 1, 0);
        }
    }

    /// <summary>
    /// Exact (mean, M2) of <paramref name="segments"/> runs of <paramref name="length"/> floats, <paramref name="stride"/>
    /// apart (together at most <see cref="Moments.ChunkLength"/> floats): the two passes of <see cref="ChunkMoments"/>
    /// over all of them, prefetching the next run while summing one (a channel's rows lie far apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SegmentMoments(float* x, int length, long stride, int segments, out double mean, out double m2)
    {
        int vectorEnd = length - length % TOps.Count;
        double count = (double)segments * length;
        var sumVector = TOps.Zero;
        float tail = 0;
        float* segment = x;
        for (int s = 0; s < segments; s++, segment += stride)
        {
            for (int i = 0; i < length; i += 16)
            {
                TOps.Prefetch(segment + stride + i);
            }
            sumVector = TOps.Add(sumVector, SumVectors(segment, vectorEnd));
            for (int i = vectorEnd; i < length; i++)
            {
                tail += segment[i];
            }
        }
        float first = count > 0 ? (float)((TOps.Sum(sumVector) + tail) / count) : 0f;

        var centre = TOps.Broadcast(first);
        TVector deviations = TOps.Zero, squares = TOps.Zero;
        double tailDeviations = 0, tailSquares = 0;
        segment = x;
        for (int s = 0; s < segments; s++, segment += stride)
        {
            var (segmentDeviations, segmentSquares) = DeviationSums(segment, vectorEnd, centre);
            deviations = TOps.Add(deviations, segmentDeviations);
            squares = TOps.Add(squares, segmentSquares);
            for (int i = vectorEnd; i < length; i++)
            {
                double d = segment[i] - first;
                tailDeviations += d;
                tailSquares += d * d;
            }
        }
        Finish(first, TOps.Sum(deviations) + tailDeviations, TOps.Sum(squares) + tailSquares, count, out mean, out m2);
        if (!double.IsFinite(mean) || !double.IsFinite(m2))
        {
            (mean, m2) = Moments.OfFloats(x, length, 1, segments, stride);
        }
    }

    // mean = first + Σ d / n and M2 = Σ d² − (Σ d)² / n, never negative; (0, 0) for no elements.
    private static void Finish(float first, double sumDeviations, double sumSquares, double count, out double mean, out double m2)
    {
        mean = count > 0 ? first + sumDeviations / count : 0;
        m2 = count > 0 ? Math.Max(0, sumSquares - sumDeviations * sumDeviations / count) : 0;
    }

    // The reductions below keep four independent accumulators: one would chain every vector through the add (or FMA)
    // latency and run at a third of the speed the loads allow. vectorEnd is a multiple of the vector width.

    // Lane sums of x[0..vectorEnd).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector SumVectors(float* x, int vectorEnd)
    {
        int w = TOps.Count, i = 0;
        TVector a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
        for (; i <= vectorEnd - 4 * w; i += 4 * w)
        {
            a0 = TOps.Add(a0, TOps.Load(x + i));
            a1 = TOps.Add(a1, TOps.Load(x + i + w));
            a2 = TOps.Add(a2, TOps.Load(x + i + 2 * w));
            a3 = TOps.Add(a3, TOps.Load(x + i + 3 * w));
        }
        if (i < vectorEnd)
        {
            a0 = TOps.Add(a0, TOps.Load(x + i));
        }
        if (i + w < vectorEnd)
        {
            a1 = TOps.Add(a1, TOps.Load(x + i + w));
        }
        if (i + 2 * w < vectorEnd)
        {
            a2 = TOps.Add(a2, TOps.Load(x + i + 2 * w));
        }
        return TOps.Add(TOps.Add(a0, a1), TOps.Add(a2, a3));
    }

    // Lane sums of d and d² with d = x − centre over x[0..vectorEnd).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (TVector Deviations, TVector Squares) DeviationSums(float* x, int vectorEnd, TVector centre)
    {
        int w = TOps.Count, i = 0;
        TVector d0 = TOps.Zero, d1 = TOps.Zero, d2 = TOps.Zero, d3 = TOps.Zero;
        TVector s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
        for (; i <= vectorEnd - 4 * w; i += 4 * w)
        {
            var e0 = TOps.Subtract(TOps.Load(x + i), centre);
            var e1 = TOps.Subtract(TOps.Load(x + i + w), centre);
            var e2 = TOps.Subtract(TOps.Load(x + i + 2 * w), centre);
            var e3 = TOps.Subtract(TOps.Load(x + i + 3 * w), centre);
            d0 = TOps.Add(d0, e0);
            d1 = TOps.Add(d1, e1);
            d2 = TOps.Add(d2, e2);
            d3 = TOps.Add(d3, e3);
            s0 = TOps.MultiplyAdd(e0, e0, s0);
            s1 = TOps.MultiplyAdd(e1, e1, s1);
            s2 = TOps.MultiplyAdd(e2, e2, s2);
            s3 = TOps.MultiplyAdd(e3, e3, s3);
        }
        for (; i < vectorEnd; i += w)
        {
            var e = TOps.Subtract(TOps.Load(x + i), centre);
            d0 = TOps.Add(d0, e);
            s0 = TOps.MultiplyAdd(e, e, s0);
        }
        return (TOps.Add(TOps.Add(d0, d1), TOps.Add(d2, d3)), TOps.Add(TOps.Add(s0, s1), TOps.Add(s2, s3)));
    }
}
