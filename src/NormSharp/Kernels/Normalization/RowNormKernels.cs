using System.Runtime.CompilerServices;

namespace NormSharp.Kernels;

/// <summary>The loops behind <see cref="RowNormFast"/>, one body per vector width (<see cref="ISimdOps{TVector}"/>).</summary>
internal static unsafe class RowNormKernels<TVector, TOps>
    where TVector : struct
    where TOps : struct, ISimdOps<TVector>
{
    /// <summary>Rows accumulated in float before the per-element parameter gradients are flushed to double.</summary>
    private const int FlushRows = 64;

    // Rows [first, last): statistics, then y.
    public static Action<int, int, int> ForwardPart(RowNormPlan plan) => (_, first, last) =>
    {
        int n = plan.RowLength;
        for (int r = first; r < last; r++)
        {
            float* x = plan.Input + (long)r * n;
            var moments = default(Moments);
            for (int start = 0; start < n; start += Moments.ChunkLength)
            {
                int length = Math.Min(Moments.ChunkLength, n - start);
                MomentKernels<TVector, TOps>.ChunkMoments(x + start, length, out double chunkMean, out double chunkM2);
                moments.Merge(length, chunkMean, chunkM2);
            }
            double mean = moments.SafeMean;
            double variance = moments.Variance;
            if (plan.MeanSquare)
            {
                // mean(x²) = variance + mean², both accurate; RMSNorm does not center
                variance += mean * mean;
                mean = 0;
            }
            double invStd = 1 / Math.Sqrt(variance + plan.Eps);
            plan.Mean[r] = mean;
            plan.Variance[r] = variance;
            plan.InvStd[r] = invStd;
            float center = (float)mean;
            if (Moments.CenteringMayOverflow(mean, invStd, n))
            {
                // x − center could overflow float (a row spread over most of float's range): normalize in double
                NormalizeWide(x, plan.Output + (long)r * n, n, mean, invStd, plan.Weight, plan.Bias);
                continue;
            }
            Normalize(x, plan.Output + (long)r * n, n, center, (float)(center - mean), (float)invStd, plan.Weight, plan.Bias);
        }
    };

    // y[j] = ((x[j] − center) + delta) · invStd · weight[j] + bias[j]; null weight means 1, null bias 0.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Normalize(float* x, float* y, int n, float center, float delta, float invStd, float* weight, float* bias)
    {
        int vectorEnd = n - n % TOps.Count;
        TVector c = TOps.Broadcast(center), d = TOps.Broadcast(delta), s = TOps.Broadcast(invStd);
        for (int j = 0; j < vectorEnd; j += TOps.Count)
        {
            var normalized = TOps.Multiply(TOps.Add(TOps.Subtract(TOps.Load(x + j), c), d), s);
            var value = weight is null ? normalized : TOps.Multiply(normalized, TOps.Load(weight + j));
            TOps.Store(y + j, bias is null ? value : TOps.Add(value, TOps.Load(bias + j)));
        }
        for (int j = vectorEnd; j < n; j++)
        {
            float value = (x[j] - center + delta) * invStd;
            value = weight is null ? value : value * weight[j];
            y[j] = bias is null ? value : value + bias[j];
        }
    }

    // y[j] = (x[j] − mean) · invStd · weight[j] + bias[j] in double, rounded once.
    private static void NormalizeWide(float* x, float* y, int n, double mean, double invStd, float* weight, float* bias)
    {
        for (int j = 0; j < n; j++)
        {
            double value = (x[j] - mean) * invStd;
            value = weight is null ? value : value * weight[j];
            y[j] = (float)(bias is null ? value : value + bias[j]);
        }
    }

    // Rows [first, last): the two row sums, dx, and this range's parameter-gradient sums.
    public static Action<int, int, int> BackwardPart(RowNormPlan plan) => (_, first, last) =>
    {
        int n = plan.RowLength;
        bool sums = plan.WeightSums is not null || plan.BiasSums is not null;
        double[]? weightSums = plan.WeightSums is null ? null : new double[n];
        double[]? biasSums = plan.BiasSums is null ? null : new double[n];
        float[] scratch = Scratch.RentCleared(2 * n);
        try
        {
            fixed (float* buffers = scratch)
            {
                float* weightBlock = buffers, biasBlock = buffers + n;
                for (int r = first; r < last; r++)
                {
                    float* x = plan.Input + (long)r * n;
                    float* dy = plan.GradOutput + (long)r * n;
                    double mean = plan.Mean[r], invStd = plan.InvStd[r];
                    float center = (float)mean, delta = (float)(center - mean), s = (float)invStd;
                    var (sumGrad, sumGradNormalized) = RowSums(x, dy, n, center, delta, s, plan.Weight, sums ? weightBlock : null, sums ? biasBlock : null);
                    if (plan.GradInput is not null)
                    {
                        double meanGrad = plan.MeanSquare ? 0 : sumGrad / n;
                        double meanGradNormalized = sumGradNormalized / n;
                        RowGradInput(x, dy, plan.GradInput + (long)r * n, n, center, delta, s, plan.Weight,
                            (float)meanGrad, (float)meanGradNormalized);
                    }
                    if (sums && ((r - first) % FlushRows == FlushRows - 1 || r == last - 1))
                    {
                        for (int j = 0; j < n; j++)
                        {
                            if (weightSums is not null)
                            {
                                weightSums[j] += weightBlock[j];
                            }
                            if (biasSums is not null)
                            {
                                biasSums[j] += biasBlock[j];
                            }
                        }
                        new Span<float>(buffers, 2 * n).Clear();
                    }
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(scratch);
        }
        if (sums)
        {
            plan.AddSums(weightSums, biasSums);
        }
    };

    // Σ ĝ and Σ ĝ x̂ over one row (ĝ = dy · weight); with blocks given, also weightBlock[j] += dy x̂, biasBlock[j] += dy.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double SumGrad, double SumGradNormalized) RowSums(
        float* x, float* dy, int n, float center, float delta, float invStd, float* weight, float* weightBlock, float* biasBlock)
    {
        int vectorEnd = n - n % TOps.Count;
        TVector c = TOps.Broadcast(center), d = TOps.Broadcast(delta), s = TOps.Broadcast(invStd);
        double sumGrad = 0, sumGradNormalized = 0;
        for (int start = 0; start < vectorEnd; start += Moments.ChunkLength)
        {
            int end = Math.Min(vectorEnd, start + Moments.ChunkLength);
            TVector grads = TOps.Zero, products = TOps.Zero;
            for (int j = start; j < end; j += TOps.Count)
            {
                var g = TOps.Load(dy + j);
                var normalized = TOps.Multiply(TOps.Add(TOps.Subtract(TOps.Load(x + j), c), d), s);
                if (weightBlock is not null)
                {
                    TOps.Store(weightBlock + j, TOps.MultiplyAdd(g, normalized, TOps.Load(weightBlock + j)));
                    TOps.Store(biasBlock + j, TOps.Add(TOps.Load(biasBlock + j), g));
                }
                var scaled = weight is null ? g : TOps.Multiply(g, TOps.Load(weight + j));
                grads = TOps.Add(grads, scaled);
                products = TOps.MultiplyAdd(scaled, normalized, products);
            }
            sumGrad += TOps.Sum(grads);
            sumGradNormalized += TOps.Sum(products);
        }
        for (int j = vectorEnd; j < n; j++)
        {
            float g = dy[j];
            float normalized = (x[j] - center + delta) * invStd;
            if (weightBlock is not null)
            {
                weightBlock[j] += g * normalized;
                biasBlock[j] += g;
            }
            float scaled = weight is null ? g : g * weight[j];
            sumGrad += scaled;
            sumGradNormalized += (double)scaled * normalized;
        }
        return (sumGrad, sumGradNormalized);
    }

    // dx[j] = invStd · (ĝ − meanGrad − x̂ · meanGradNormalized)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowGradInput(float* x, float* dy, float* dx, int n, float center, float delta, float invStd, float* weight,
        float meanGrad, float meanGradNormalized)
    {
        int vectorEnd = n - n % TOps.Count;
        TVector c = TOps.Broadcast(center), d = TOps.Broadcast(delta), s = TOps.Broadcast(invStd);
        TVector mg = TOps.Broadcast(meanGrad), mgn = TOps.Broadcast(meanGradNormalized);
        for (int j = 0; j < vectorEnd; j += TOps.Count)
        {
            var g = TOps.Load(dy + j);
            var scaled = weight is null ? g : TOps.Multiply(g, TOps.Load(weight + j));
            var normalized = TOps.Multiply(TOps.Add(TOps.Subtract(TOps.Load(x + j), c), d), s);
            var inner = TOps.Subtract(TOps.Subtract(scaled, mg), TOps.Multiply(normalized, mgn));
            TOps.Store(dx + j, TOps.Multiply(inner, s));
        }
        for (int j = vectorEnd; j < n; j++)
        {
            float scaled = weight is null ? dy[j] : dy[j] * weight[j];
            float normalized = (x[j] - center + delta) * invStd;
            dx[j] = (scaled - meanGrad - normalized * meanGradNormalized) * invStd;
        }
    }
}
