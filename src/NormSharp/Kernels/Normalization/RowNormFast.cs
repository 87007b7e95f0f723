using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormSharp.Kernels;

/// <summary>
/// Row normalization, fast kernels: LayerNorm and RMSNorm (statistics per row of a [rows, rowLength] view, affine
/// per element of the row), and any row norm without affine parameters. Same results as the reference path of
/// <c>NormalizationReference</c> (Moments, Normalize, ScaleShift and their backwards), against which it is tested;
/// derivation in docs/derivations/layernorm.md.
/// </summary>
/// <remarks>
/// Parallel over blocks of rows; one row (a few KiB) stays in L1 between its two passes, so each direction reads the
/// input from memory once. Row statistics use the exact chunked two-pass scheme of <see cref="MomentKernels{TVector, TOps}"/>;
/// the difference between the float mean m and the exact mean, delta = m − mean, is carried into the affine step,
/// so that rows with a large common offset keep float accuracy.
/// Forward: y = ((x − m) + delta) · invStd · weight + bias. Backward, with ĝ = dy · weight and
/// x̂ = ((x − m) + delta) · invStd: dx = invStd · (ĝ − Σ ĝ / n − x̂ · Σ ĝ x̂ / n) (the Σ ĝ term is absent for RMSNorm),
/// gradWeight = Σ_rows dy · x̂, gradBias = Σ_rows dy.
/// </remarks>
internal static unsafe class RowNormFast
{
    /// <summary>Rows accumulated in float before the per-element parameter gradients are flushed to double.</summary>
    internal const int FlushRows = 64;

    /// <summary>
    /// Forward: per-row mean (0 with <paramref name="meanSquare"/>) and variance (mean square with
    /// <paramref name="meanSquare"/>), invStd = 1/√(variance + eps), and the normalized, affine output.
    /// </summary>
    // input, output: [rows, rowLength]; weight, bias: [rowLength] or empty; mean, variance, invStd: [rows]
    public static void Forward(
        ReadOnlySpan<float> input, int rows, int rowLength, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        double eps, bool meanSquare, Span<double> mean, Span<double> variance, Span<double> invStd, Span<float> output,
        SimdWidth width = SimdWidth.Auto)
    {
        NormChecks.CheckView(input.Length, rows, rowLength, 1, nameof(input));
        NormChecks.CheckView(output.Length, rows, rowLength, 1, nameof(output));
        NormChecks.CheckLength(mean.Length, rows, nameof(mean));
        NormChecks.CheckLength(variance.Length, rows, nameof(variance));
        NormChecks.CheckLength(invStd.Length, rows, nameof(invStd));
        NormChecks.CheckOptional(weight.Length, rowLength, nameof(weight));
        NormChecks.CheckOptional(bias.Length, rowLength, nameof(bias));
        fixed (float* x = input, y = output, w = weight, b = bias)
        fixed (double* m = mean, v = variance, s = invStd)
        {
            var plan = new Plan(x, rows, rowLength, w, b, meanSquare, Simd.Resolve(width))
            {
                Output = y,
                Mean = m,
                Variance = v,
                InvStd = s,
                Eps = eps,
            };
            plan.Run(backward: false);
        }
    }

    /// <summary>Backward in closed form for the statistics <see cref="Forward"/> computed; empty destinations are skipped.</summary>
    // input, gradOutput, gradInput: [rows, rowLength]; weight: [rowLength] or empty; mean, invStd: [rows];
    // gradInput: may be empty; gradWeight, gradBias: [rowLength] or empty
    public static void Backward(
        ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, int rows, int rowLength, ReadOnlySpan<float> weight,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd, bool meanSquare,
        Span<float> gradInput, Span<float> gradWeight, Span<float> gradBias, SimdWidth width = SimdWidth.Auto)
    {
        NormChecks.CheckView(input.Length, rows, rowLength, 1, nameof(input));
        NormChecks.CheckView(gradOutput.Length, rows, rowLength, 1, nameof(gradOutput));
        NormChecks.CheckLength(mean.Length, rows, nameof(mean));
        NormChecks.CheckLength(invStd.Length, rows, nameof(invStd));
        NormChecks.CheckOptional(weight.Length, rowLength, nameof(weight));
        NormChecks.CheckGradients(rows, rowLength, 1, gradInput.Length, gradWeight.Length, gradBias.Length);
        double[]? weightSums = gradWeight.IsEmpty ? null : new double[rowLength];
        double[]? biasSums = gradBias.IsEmpty ? null : new double[rowLength];
        fixed (float* x = input, dy = gradOutput, dx = gradInput, w = weight)
        fixed (double* m = mean, s = invStd)
        {
            var plan = new Plan(x, rows, rowLength, w, null, meanSquare, Simd.Resolve(width))
            {
                GradOutput = dy,
                GradInput = gradInput.IsEmpty ? null : dx,
                Mean = m,
                InvStd = s,
                WeightSums = weightSums,
                BiasSums = biasSums,
            };
            plan.Run(backward: true);
        }
        for (int j = 0; j < rowLength; j++)
        {
            if (weightSums is not null)
            {
                gradWeight[j] = (float)weightSums[j];
            }
            if (biasSums is not null)
            {
                gradBias[j] = (float)biasSums[j];
            }
        }
    }

    internal sealed class Plan
    {
        public readonly float* Input, Weight, Bias;
        public float* Output, GradOutput, GradInput;
        public double* Mean, Variance, InvStd;
        public readonly int Rows, RowLength;
        public readonly bool MeanSquare;
        public readonly SimdWidth Width;
        public readonly int Workers;
        public double Eps;
        public double[]? WeightSums, BiasSums;
        private readonly object gate = new();

        public Plan(float* input, int rows, int rowLength, float* weight, float* bias, bool meanSquare, SimdWidth width)
        {
            Input = input;
            Rows = rows;
            RowLength = rowLength;
            Weight = weight;
            Bias = bias;
            MeanSquare = meanSquare;
            Width = width;
            Workers = Parallelism.Workers((long)rows * rowLength * Parallelism.WorkPerNormalizedElement);
        }

        public void Run(bool backward)
        {
            int parts = Workers == 1 ? 1 : Math.Min(Rows, 4 * Workers);
            Action<int, int, int> body = Width switch
            {
                SimdWidth.Vector512 => backward ? RowNormKernels<Vector512<float>, Vector512Ops>.BackwardPart(this) : RowNormKernels<Vector512<float>, Vector512Ops>.ForwardPart(this),
                SimdWidth.Vector256 => backward ? RowNormKernels<Vector256<float>, Vector256Ops>.BackwardPart(this) : RowNormKernels<Vector256<float>, Vector256Ops>.ForwardPart(this),
                _ => backward ? RowNormKernels<float, ScalarOps>.BackwardPart(this) : RowNormKernels<float, ScalarOps>.ForwardPart(this),
            };
            Parallelism.ForRanges(Rows, parts, body);
        }

        /// <summary>Adds one part's parameter-gradient sums into the totals.</summary>
        public void AddSums(double[]? weightSums, double[]? biasSums)
        {
            lock (gate)
            {
                for (int j = 0; j < RowLength; j++)
                {
                    if (weightSums is not null)
                    {
                        WeightSums![j] += weightSums[j];
                    }
                    if (biasSums is not null)
                    {
                        BiasSums![j] += biasSums[j];
                    }
                }
            }
        }
    }
}

/// <summary>The loops behind <see cref="RowNormFast"/>, one body per vector width (<see cref="ISimdOps{TVector}"/>).</summary>
internal static unsafe class RowNormKernels<TVector, TOps>
    where TVector : struct
    where TOps : struct, ISimdOps<TVector>
{
    // Rows [first, last): statistics, then y.
    public static Action<int, int, int> ForwardPart(RowNormFast.Plan plan) => (_, first, last) =>
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
    public static Action<int, int, int> BackwardPart(RowNormFast.Plan plan) => (_, first, last) =>
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
                    if (sums && ((r - first) % RowNormFast.FlushRows == RowNormFast.FlushRows - 1 || r == last - 1))
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
