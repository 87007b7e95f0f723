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
            // x − center could overflow float (a row spread over most of float's range): then normalize in double
            bool wide = Moments.CenteringMayOverflow(mean, invStd, n);
            float* y = plan.Output + (long)r * n;
            if (plan.PerElement || (plan.Weight is null && plan.Bias is null))
            {
                int slice = plan.Channel(r, 0);   // this row's parameters are [slice, slice + n)
                if (wide)
                {
                    NormalizeWide(x, y, n, mean, invStd, plan.WeightOf(slice), plan.BiasOf(slice), uniform: false);
                    continue;
                }
                Normalize(x, y, n, center, (float)(center - mean), (float)invStd, plan.WeightOf(slice), plan.BiasOf(slice), uniform: false);
                continue;
            }
            // One channel's weight and bias a run of AffineInner elements (GroupNorm, InstanceNorm).
            for (int start = 0; start < n; start += plan.AffineInner)
            {
                int channel = plan.Channel(r, start);
                if (wide)
                {
                    NormalizeWide(x + start, y + start, plan.AffineInner, mean, invStd, plan.WeightOf(channel), plan.BiasOf(channel), uniform: true);
                    continue;
                }
                Normalize(x + start, y + start, plan.AffineInner, center, (float)(center - mean), (float)invStd,
                    plan.WeightOf(channel), plan.BiasOf(channel), uniform: true);
            }
        }
    };

    // y[j] = ((x[j] − center) + delta) · invStd · weight[j] + bias[j]; null weight means 1, null bias 0; with uniform,
    // weight and bias point at one value for every j.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Normalize(float* x, float* y, int n, float center, float delta, float invStd, float* weight, float* bias, bool uniform)
    {
        int vectorEnd = n - n % TOps.Count, step = uniform ? 0 : 1;
        TVector c = TOps.Broadcast(center), d = TOps.Broadcast(delta), s = TOps.Broadcast(invStd);
        TVector w = uniform && weight is not null ? TOps.Broadcast(*weight) : default, b = uniform && bias is not null ? TOps.Broadcast(*bias) : default;
        for (int j = 0; j < vectorEnd; j += TOps.Count)
        {
            var normalized = TOps.Multiply(TOps.Add(TOps.Subtract(TOps.Load(x + j), c), d), s);
            var value = weight is null ? normalized : TOps.Multiply(normalized, uniform ? w : TOps.Load(weight + j));
            TOps.Store(y + j, bias is null ? value : TOps.Add(value, uniform ? b : TOps.Load(bias + j)));
        }
        for (int j = vectorEnd; j < n; j++)
        {
            float value = (x[j] - center + delta) * invStd;
            value = weight is null ? value : value * weight[j * step];
            y[j] = bias is null ? value : value + bias[j * step];
        }
    }

    // y[j] = (x[j] − mean) · invStd · weight[j] + bias[j] in double, rounded once (uniform as in Normalize).
    private static void NormalizeWide(float* x, float* y, int n, double mean, double invStd, float* weight, float* bias, bool uniform)
    {
        int step = uniform ? 0 : 1;
        for (int j = 0; j < n; j++)
        {
            double value = (x[j] - mean) * invStd;
            value = weight is null ? value : value * weight[j * step];
            y[j] = (float)(bias is null ? value : value + bias[j * step]);
        }
    }

    // Rows [first, last): the two row sums, dx, and this range's parameter-gradient sums.
    public static Action<int, int, int> BackwardPart(RowNormPlan plan) => (_, first, last) =>
    {
        int n = plan.RowLength;
        bool sums = plan.WeightSums is not null || plan.BiasSums is not null;
        double[]? weightSums = plan.WeightSums is null ? null : new double[plan.AffineChannels];
        double[]? biasSums = plan.BiasSums is null ? null : new double[plan.AffineChannels];
        int channels = plan.AffineChannels;
        float[] scratch = Scratch.RentCleared(2 * channels);
        try
        {
            fixed (float* buffers = scratch)
            {
                float* weightBlock = buffers, biasBlock = buffers + channels;
                for (int r = first; r < last; r++)
                {
                    float* x = plan.Input + (long)r * n;
                    float* dy = plan.GradOutput + (long)r * n;
                    double mean = plan.Mean[r], invStd = plan.InvStd[r];
                    float center = (float)mean, delta = (float)(center - mean), s = (float)invStd;
                    if (!plan.PerElement && (plan.Weight is not null || sums))
                    {
                        ChannelRowBackward(plan, r, center, delta, s, weightSums, biasSums);
                        continue;
                    }
                    int slice = plan.Channel(r, 0);   // this row's parameters are [slice, slice + n)
                    var (sumGrad, sumGradNormalized) = RowSums(x, dy, n, center, delta, s, plan.WeightOf(slice),
                        sums ? weightBlock + slice : null, sums ? biasBlock + slice : null);
                    if (plan.GradInput is not null)
                    {
                        double meanGrad = plan.MeanSquare ? 0 : sumGrad / n;
                        double meanGradNormalized = sumGradNormalized / n;
                        RowGradInput(x, dy, plan.GradInput + (long)r * n, n, center, delta, s, plan.WeightOf(slice), uniform: false,
                            (float)meanGrad, (float)meanGradNormalized);
                    }
                    if (sums && ((r - first) % FlushRows == FlushRows - 1 || r == last - 1))
                    {
                        for (int j = 0; j < channels; j++)
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
                        new Span<float>(buffers, 2 * channels).Clear();
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

    // Row r with one channel's weight a run of AffineInner elements: per run, Σ dy and Σ dy x̂ (the channel's parameter
    // gradients; times its weight, the row's Σ ĝ and Σ ĝ x̂), then dx run by run.
    private static void ChannelRowBackward(RowNormPlan plan, int r, float center, float delta, float invStd, double[]? weightSums, double[]? biasSums)
    {
        int n = plan.RowLength, inner = plan.AffineInner;
        float* x = plan.Input + (long)r * n, dy = plan.GradOutput + (long)r * n;
        double sumGrad = 0, sumGradNormalized = 0;
        for (int start = 0; start < n; start += inner)
        {
            var (runGrad, runGradNormalized) = RowSums(x + start, dy + start, inner, center, delta, invStd, null, null, null);
            int channel = plan.Channel(r, start);
            weightSums?[channel] += runGradNormalized;
            biasSums?[channel] += runGrad;
            double weight = plan.Weight is null ? 1 : plan.Weight[channel];
            sumGrad += weight * runGrad;
            sumGradNormalized += weight * runGradNormalized;
        }
        if (plan.GradInput is null)
        {
            return;
        }
        float meanGrad = plan.MeanSquare ? 0 : (float)(sumGrad / n), meanGradNormalized = (float)(sumGradNormalized / n);
        for (int start = 0; start < n; start += inner)
        {
            RowGradInput(x + start, dy + start, plan.GradInput + (long)r * n + start, inner, center, delta, invStd,
                plan.WeightOf(plan.Channel(r, start)), uniform: true, meanGrad, meanGradNormalized);
        }
    }

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

    // dx[j] = invStd · (ĝ − meanGrad − x̂ · meanGradNormalized), ĝ = dy · weight[j] (weight[0] for every j with uniform)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowGradInput(float* x, float* dy, float* dx, int n, float center, float delta, float invStd, float* weight,
        bool uniform, float meanGrad, float meanGradNormalized)
    {
        int vectorEnd = n - n % TOps.Count, step = uniform ? 0 : 1;
        TVector c = TOps.Broadcast(center), d = TOps.Broadcast(delta), s = TOps.Broadcast(invStd);
        TVector mg = TOps.Broadcast(meanGrad), mgn = TOps.Broadcast(meanGradNormalized);
        TVector w = uniform && weight is not null ? TOps.Broadcast(*weight) : default;
        for (int j = 0; j < vectorEnd; j += TOps.Count)
        {
            var g = TOps.Load(dy + j);
            var scaled = weight is null ? g : TOps.Multiply(g, uniform ? w : TOps.Load(weight + j));
            var normalized = TOps.Multiply(TOps.Add(TOps.Subtract(TOps.Load(x + j), c), d), s);
            var inner = TOps.Subtract(TOps.Subtract(scaled, mg), TOps.Multiply(normalized, mgn));
            TOps.Store(dx + j, TOps.Multiply(inner, s));
        }
        for (int j = vectorEnd; j < n; j++)
        {
            float scaled = weight is null ? dy[j] : dy[j] * weight[j * step];
            float normalized = (x[j] - center + delta) * invStd;
            dx[j] = (scaled - meanGrad - normalized * meanGradNormalized) * invStd;
        }
    }
}
