using System.Runtime.CompilerServices;
namespace NormSharp.Kernels;

/// <summary>
/// The loops behind <see cref="BatchNormFast"/>, written once over <see cref="ISimdOps{TVector}"/> and compiled
/// for each vector width. Tails (the last length mod width elements) run through <see cref="ScalarOps"/> with the
/// same operations, so a ReLU mask recomputed in the backward matches the forward's output bit for bit.
/// </summary>
internal static unsafe class BatchNormKernels<TVector, TOps>
    where TVector : struct
    where TOps : struct, ISimdOps<TVector>
{
    /// <summary>Rows per block in the channels-last reductions: about 32 KiB of input, so the second pass hits L1.</summary>
    private const int BlockFloats = 8192;

    public static void Run(BatchNormFast.Plan plan, BatchNormFast.Stage stage)
    {
        if (plan.Inner == 1)
        {
            RunRows(plan, stage);
        }
        else
        {
            RunChannelsFirst(plan, stage);
        }
    }

    // ---------------------------------------------------------------- channels first: [outer, channels, inner], inner > 1

    private static void RunChannelsFirst(BatchNormFast.Plan plan, BatchNormFast.Stage stage)
    {
        int channels = plan.Channels;
        // One channel per work item keeps its data in one core's cache between the two passes; with fewer channels
        // than twice the threads that would leave a core idle, so the batch is split instead.
        bool perChannel = plan.Workers == 1 || channels >= 2 * plan.Workers;
        int parts = perChannel ? 1 : Math.Clamp(4 * plan.Workers / Math.Max(1, channels), 1, Math.Max(1, plan.Outer));
        switch (stage)
        {
            case BatchNormFast.Stage.TrainForward:
                if (perChannel)
                {
                    For(plan, channels, c =>
                    {
                        var moments = ChannelMoments(plan, c, 0, plan.Outer);
                        plan.SetStatistics(c, moments);
                        plan.SetForwardCoefficients(c);
                        ApplyChannel(plan, c, 0, plan.Outer);
                    });
                }
                else
                {
                    var partial = new BatchNormFast.Moments[channels * parts];
                    For(plan, channels * parts, item =>
                    {
                        int c = item / parts, part = item % parts;
                        partial[item] = ChannelMoments(plan, c, Split(plan.Outer, part, parts), Split(plan.Outer, part + 1, parts));
                    });
                    for (int c = 0; c < channels; c++)
                    {
                        var total = default(BatchNormFast.Moments);
                        for (int part = 0; part < parts; part++)
                        {
                            var p = partial[c * parts + part];
                            total.Merge(p.Count, p.Mean, p.M2);
                        }
                        plan.SetStatistics(c, total);
                        plan.SetForwardCoefficients(c);
                    }
                    ApplySegments(plan);
                }
                break;

            case BatchNormFast.Stage.EvalForward:
                for (int c = 0; c < channels; c++)
                {
                    plan.SetForwardCoefficients(c);
                }
                ApplySegments(plan);
                break;

            case BatchNormFast.Stage.BackwardWithSums:
                for (int c = 0; c < channels; c++)
                {
                    plan.SetForwardCoefficients(c);
                }
                if (perChannel)
                {
                    For(plan, channels, c =>
                    {
                        var (sumGrad, sumCentered) = ChannelGradSums(plan, c, 0, plan.Outer);
                        plan.SumGrad[c] = sumGrad;
                        plan.SumGradCentered[c] = sumCentered;
                        plan.SetBackwardCoefficients(c);
                        if (plan.GradInput is not null)
                        {
                            GradChannel(plan, c, 0, plan.Outer);
                        }
                    });
                }
                else
                {
                    var partial = new (double SumGrad, double SumCentered)[channels * parts];
                    For(plan, channels * parts, item =>
                    {
                        int c = item / parts, part = item % parts;
                        partial[item] = ChannelGradSums(plan, c, Split(plan.Outer, part, parts), Split(plan.Outer, part + 1, parts));
                    });
                    for (int c = 0; c < channels; c++)
                    {
                        for (int part = 0; part < parts; part++)
                        {
                            plan.SumGrad[c] += partial[c * parts + part].SumGrad;
                            plan.SumGradCentered[c] += partial[c * parts + part].SumCentered;
                        }
                        plan.SetBackwardCoefficients(c);
                    }
                    if (plan.GradInput is not null)
                    {
                        GradSegments(plan);
                    }
                }
                break;

            case BatchNormFast.Stage.BackwardNoSums:
                for (int c = 0; c < channels; c++)
                {
                    plan.SetForwardCoefficients(c);
                    plan.SetBackwardCoefficients(c);
                }
                if (plan.GradInput is not null)
                {
                    GradSegments(plan);
                }
                break;
        }
    }

    // Moments of channel c over batch rows [o0, o1), chunk by chunk.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static BatchNormFast.Moments ChannelMoments(BatchNormFast.Plan plan, int c, int o0, int o1)
    {
        var moments = default(BatchNormFast.Moments);
        for (int o = o0; o < o1; o++)
        {
            float* segment = plan.Input + ((long)o * plan.Channels + c) * plan.Inner;
            for (int start = 0; start < plan.Inner; start += BatchNormFast.ChunkLength)
            {
                int length = Math.Min(BatchNormFast.ChunkLength, plan.Inner - start);
                ChunkMoments(segment + start, length, out double mean, out double m2);
                moments.Merge(length, mean, m2);
            }
        }
        return moments;
    }

    // Σ g and Σ g · (x − Center) of channel c over batch rows [o0, o1), g the (ReLU-masked) upstream gradient.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double SumGrad, double SumCentered) ChannelGradSums(BatchNormFast.Plan plan, int c, int o0, int o1)
    {
        double sumGrad = 0, sumCentered = 0;
        for (int o = o0; o < o1; o++)
        {
            long offset = ((long)o * plan.Channels + c) * plan.Inner;
            GradSums(plan.GradOutput + offset, plan.Input + offset, plan.Inner,
                plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, ref sumGrad, ref sumCentered);
        }
        return (sumGrad, sumCentered);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ApplyChannel(BatchNormFast.Plan plan, int c, int o0, int o1)
    {
        for (int o = o0; o < o1; o++)
        {
            long offset = ((long)o * plan.Channels + c) * plan.Inner;
            Affine(plan.Input + offset, plan.Output + offset, plan.Inner, plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradChannel(BatchNormFast.Plan plan, int c, int o0, int o1)
    {
        for (int o = o0; o < o1; o++)
        {
            long offset = ((long)o * plan.Channels + c) * plan.Inner;
            GradInput(plan.GradOutput + offset, plan.Input + offset, plan.GradInput + offset, plan.Inner,
                plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, plan.GradScale[c], plan.GradBeta[c], plan.GradGamma[c]);
        }
    }

    // y over every (o, c) segment, in parallel over ranges of segments.
    private static void ApplySegments(BatchNormFast.Plan plan)
    {
        int segments = plan.Outer * plan.Channels;
        int chunks = Math.Min(segments, 8 * plan.Workers);
        For(plan, chunks, chunk =>
        {
            for (int s = Split(segments, chunk, chunks); s < Split(segments, chunk + 1, chunks); s++)
            {
                int c = s % plan.Channels;
                long offset = (long)s * plan.Inner;
                Affine(plan.Input + offset, plan.Output + offset, plan.Inner, plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu);
            }
        });
    }

    private static void GradSegments(BatchNormFast.Plan plan)
    {
        int segments = plan.Outer * plan.Channels;
        int chunks = Math.Min(segments, 8 * plan.Workers);
        For(plan, chunks, chunk =>
        {
            for (int s = Split(segments, chunk, chunks); s < Split(segments, chunk + 1, chunks); s++)
            {
                int c = s % plan.Channels;
                long offset = (long)s * plan.Inner;
                GradInput(plan.GradOutput + offset, plan.Input + offset, plan.GradInput + offset, plan.Inner,
                    plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, plan.GradScale[c], plan.GradBeta[c], plan.GradGamma[c]);
            }
        });
    }

    // ---------------------------------------------------------------- contiguous runs of one channel

    // Exact moments of x[0..n) (n <= ChunkLength): float mean, then centred sums with the rounding correction.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ChunkMoments(float* x, int n, out double mean, out double m2)
    {
        int vectorEnd = n - n % TOps.Count;
        var sumVector = TOps.Zero;
        for (int i = 0; i < vectorEnd; i += TOps.Count)
        {
            sumVector = TOps.Add(sumVector, TOps.Load(x + i));
        }
        float sum = TOps.Sum(sumVector);
        for (int i = vectorEnd; i < n; i++)
        {
            sum += x[i];
        }
        float first = n > 0 ? sum / n : 0f;

        // second pass from L1: Σ d and Σ d² with d = x − first; Σ d is first's rounding error times n
        var centre = TOps.Broadcast(first);
        TVector deviations = TOps.Zero, squares = TOps.Zero;
        for (int i = 0; i < vectorEnd; i += TOps.Count)
        {
            var d = TOps.Subtract(TOps.Load(x + i), centre);
            deviations = TOps.Add(deviations, d);
            squares = TOps.MultiplyAdd(d, d, squares);
        }
        double sumDeviations = TOps.Sum(deviations), sumSquares = TOps.Sum(squares);
        for (int i = vectorEnd; i < n; i++)
        {
            double d = x[i] - first;
            sumDeviations += d;
            sumSquares += d * d;
        }
        mean = n > 0 ? first + sumDeviations / n : 0;
        m2 = n > 0 ? Math.Max(0, sumSquares - sumDeviations * sumDeviations / n) : 0;
    }

    // y[i] = (x[i] − center) · scale + shift, then max(·, 0) with relu.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Affine(float* x, float* y, int n, float center, float scale, float shift, bool relu)
    {
        int vectorEnd = n - n % TOps.Count;
        TVector c = TOps.Broadcast(center), s = TOps.Broadcast(scale), b = TOps.Broadcast(shift);
        if (relu)
        {
            for (int i = 0; i < vectorEnd; i += TOps.Count)
            {
                TOps.Store(y + i, TOps.Relu(TOps.MultiplyAdd(TOps.Subtract(TOps.Load(x + i), c), s, b)));
            }
        }
        else
        {
            for (int i = 0; i < vectorEnd; i += TOps.Count)
            {
                TOps.Store(y + i, TOps.MultiplyAdd(TOps.Subtract(TOps.Load(x + i), c), s, b));
            }
        }
        for (int i = vectorEnd; i < n; i++)
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
        for (int start = 0; start < vectorEnd; start += BatchNormFast.ChunkLength)
        {
            int end = Math.Min(vectorEnd, start + BatchNormFast.ChunkLength);
            TVector grads = TOps.Zero, products = TOps.Zero;
            for (int i = start; i < end; i += TOps.Count)
            {
                var g = TOps.Load(dy + i);
                var d = TOps.Subtract(TOps.Load(x + i), c);
                if (relu)
                {
                    g = TOps.WherePositive(TOps.MultiplyAdd(d, s, b), g);
                }
                grads = TOps.Add(grads, g);
                products = TOps.MultiplyAdd(g, d, products);
            }
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

    // dx[i] = k · g + beta · (x[i] − center) + gamma, g as in GradSums.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void GradInput(float* dy, float* x, float* dx, int n, float center, float scale, float shift, bool relu,
        float k, float beta, float gamma)
    {
        TVector c = TOps.Broadcast(center), s = TOps.Broadcast(scale), b = TOps.Broadcast(shift);
        TVector vk = TOps.Broadcast(k), vBeta = TOps.Broadcast(beta), vGamma = TOps.Broadcast(gamma);
        int vectorEnd = n - n % TOps.Count;
        for (int i = 0; i < vectorEnd; i += TOps.Count)
        {
            var g = TOps.Load(dy + i);
            var d = TOps.Subtract(TOps.Load(x + i), c);
            if (relu)
            {
                g = TOps.WherePositive(TOps.MultiplyAdd(d, s, b), g);
            }
            TOps.Store(dx + i, TOps.MultiplyAdd(g, vk, TOps.MultiplyAdd(d, vBeta, vGamma)));
        }
        for (int i = vectorEnd; i < n; i++)
        {
            float d = x[i] - center;
            float g = relu ? ScalarOps.WherePositive(ScalarOps.MultiplyAdd(d, scale, shift), dy[i]) : dy[i];
            dx[i] = ScalarOps.MultiplyAdd(g, k, ScalarOps.MultiplyAdd(d, beta, gamma));
        }
    }

    // ---------------------------------------------------------------- channels last: [rows, channels], inner = 1

    private static void RunRows(BatchNormFast.Plan plan, BatchNormFast.Stage stage)
    {
        int rows = plan.Outer, channels = plan.Channels;
        int parts = plan.Workers == 1 ? 1 : Math.Clamp(4 * plan.Workers, 1, Math.Max(1, rows));
        switch (stage)
        {
            case BatchNormFast.Stage.TrainForward:
            {
                var partial = new BatchNormFast.Moments[parts][];
                For(plan, parts, part => partial[part] = RowsMoments(plan, Split(rows, part, parts), Split(rows, part + 1, parts)));
                for (int c = 0; c < channels; c++)
                {
                    var total = default(BatchNormFast.Moments);
                    foreach (var p in partial)
                    {
                        total.Merge(p[c].Count, p[c].Mean, p[c].M2);
                    }
                    plan.SetStatistics(c, total);
                    plan.SetForwardCoefficients(c);
                }
                For(plan, parts, part => RowsAffine(plan, Split(rows, part, parts), Split(rows, part + 1, parts)));
                break;
            }
            case BatchNormFast.Stage.EvalForward:
                for (int c = 0; c < channels; c++)
                {
                    plan.SetForwardCoefficients(c);
                }
                For(plan, parts, part => RowsAffine(plan, Split(rows, part, parts), Split(rows, part + 1, parts)));
                break;

            case BatchNormFast.Stage.BackwardWithSums:
            {
                for (int c = 0; c < channels; c++)
                {
                    plan.SetForwardCoefficients(c);
                }
                var partialGrad = new double[parts][];
                var partialCentered = new double[parts][];
                For(plan, parts, part =>
                {
                    partialGrad[part] = new double[channels];
                    partialCentered[part] = new double[channels];
                    RowsGradSums(plan, Split(rows, part, parts), Split(rows, part + 1, parts), partialGrad[part], partialCentered[part]);
                });
                for (int c = 0; c < channels; c++)
                {
                    for (int part = 0; part < parts; part++)
                    {
                        plan.SumGrad[c] += partialGrad[part][c];
                        plan.SumGradCentered[c] += partialCentered[part][c];
                    }
                    plan.SetBackwardCoefficients(c);
                }
                if (plan.GradInput is not null)
                {
                    For(plan, parts, part => RowsGradInput(plan, Split(rows, part, parts), Split(rows, part + 1, parts)));
                }
                break;
            }
            case BatchNormFast.Stage.BackwardNoSums:
                for (int c = 0; c < channels; c++)
                {
                    plan.SetForwardCoefficients(c);
                    plan.SetBackwardCoefficients(c);
                }
                if (plan.GradInput is not null)
                {
                    For(plan, parts, part => RowsGradInput(plan, Split(rows, part, parts), Split(rows, part + 1, parts)));
                }
                break;
        }
    }

    // Per-channel moments of rows [r0, r1): blocks of rows reduced exactly in two passes (the block stays in L1),
    // then merged into double moments per channel.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static BatchNormFast.Moments[] RowsMoments(BatchNormFast.Plan plan, int r0, int r1)
    {
        int channels = plan.Channels;
        var moments = new BatchNormFast.Moments[channels];
        int blockRows = Math.Max(1, BlockFloats / Math.Max(1, channels));
        float[] scratch = BatchNormFast.RentCleared(3 * channels);
        try
        {
            fixed (float* buffers = scratch)
            {
                float* first = buffers, deviations = buffers + channels, squares = buffers + 2 * channels;
                for (int b0 = r0; b0 < r1; b0 += blockRows)
                {
                    int b1 = Math.Min(r1, b0 + blockRows);
                    int n = b1 - b0;
                    new Span<float>(first, 3 * channels).Clear();
                    for (int r = b0; r < b1; r++)
                    {
                        AddRow(plan.Input + (long)r * channels, first, channels);
                    }
                    float inverse = 1f / n;
                    for (int c = 0; c < channels; c++)
                    {
                        first[c] *= inverse;
                    }
                    for (int r = b0; r < b1; r++)
                    {
                        AccumulateCentered(plan.Input + (long)r * channels, first, deviations, squares, channels);
                    }
                    for (int c = 0; c < channels; c++)
                    {
                        double mean = first[c] + (double)deviations[c] / n;
                        double m2 = Math.Max(0, squares[c] - (double)deviations[c] * deviations[c] / n);
                        moments[c].Merge(n, mean, m2);
                    }
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(scratch);
        }
        return moments;
    }

    // sum[c] += row[c]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddRow(float* row, float* sum, int channels)
    {
        int vectorEnd = channels - channels % TOps.Count;
        for (int c = 0; c < vectorEnd; c += TOps.Count)
        {
            TOps.Store(sum + c, TOps.Add(TOps.Load(sum + c), TOps.Load(row + c)));
        }
        for (int c = vectorEnd; c < channels; c++)
        {
            sum[c] += row[c];
        }
    }

    // deviations[c] += row[c] − centre[c]; squares[c] += (row[c] − centre[c])²
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateCentered(float* row, float* centre, float* deviations, float* squares, int channels)
    {
        int vectorEnd = channels - channels % TOps.Count;
        for (int c = 0; c < vectorEnd; c += TOps.Count)
        {
            var d = TOps.Subtract(TOps.Load(row + c), TOps.Load(centre + c));
            TOps.Store(deviations + c, TOps.Add(TOps.Load(deviations + c), d));
            TOps.Store(squares + c, TOps.MultiplyAdd(d, d, TOps.Load(squares + c)));
        }
        for (int c = vectorEnd; c < channels; c++)
        {
            float d = row[c] - centre[c];
            deviations[c] += d;
            squares[c] = ScalarOps.MultiplyAdd(d, d, squares[c]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsAffine(BatchNormFast.Plan plan, int r0, int r1)
    {
        int channels = plan.Channels;
        int vectorEnd = channels - channels % TOps.Count;
        bool relu = plan.Relu;
        fixed (float* center = plan.Center, scale = plan.Scale, shift = plan.Shift)
        {
            for (int r = r0; r < r1; r++)
            {
                float* x = plan.Input + (long)r * channels;
                float* y = plan.Output + (long)r * channels;
                for (int c = 0; c < vectorEnd; c += TOps.Count)
                {
                    var v = TOps.MultiplyAdd(TOps.Subtract(TOps.Load(x + c), TOps.Load(center + c)), TOps.Load(scale + c), TOps.Load(shift + c));
                    TOps.Store(y + c, relu ? TOps.Relu(v) : v);
                }
                for (int c = vectorEnd; c < channels; c++)
                {
                    float v = ScalarOps.MultiplyAdd(x[c] - center[c], scale[c], shift[c]);
                    y[c] = relu ? ScalarOps.Relu(v) : v;
                }
            }
        }
    }

    // sumGrad[c] += Σ g, sumCentered[c] += Σ g (x − center[c]) over rows [r0, r1); float per block, double across blocks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsGradSums(BatchNormFast.Plan plan, int r0, int r1, double[] sumGrad, double[] sumCentered)
    {
        int channels = plan.Channels;
        int vectorEnd = channels - channels % TOps.Count;
        int blockRows = Math.Max(1, BlockFloats / Math.Max(1, channels));
        bool relu = plan.Relu;
        float[] scratch = BatchNormFast.RentCleared(2 * channels);
        try
        {
            fixed (float* buffers = scratch, center = plan.Center, scale = plan.Scale, shift = plan.Shift)
            {
                float* grads = buffers, products = buffers + channels;
                for (int b0 = r0; b0 < r1; b0 += blockRows)
                {
                    int b1 = Math.Min(r1, b0 + blockRows);
                    new Span<float>(buffers, 2 * channels).Clear();
                    for (int r = b0; r < b1; r++)
                    {
                        float* x = plan.Input + (long)r * channels;
                        float* dy = plan.GradOutput + (long)r * channels;
                        for (int c = 0; c < vectorEnd; c += TOps.Count)
                        {
                            var g = TOps.Load(dy + c);
                            var d = TOps.Subtract(TOps.Load(x + c), TOps.Load(center + c));
                            if (relu)
                            {
                                g = TOps.WherePositive(TOps.MultiplyAdd(d, TOps.Load(scale + c), TOps.Load(shift + c)), g);
                            }
                            TOps.Store(grads + c, TOps.Add(TOps.Load(grads + c), g));
                            TOps.Store(products + c, TOps.MultiplyAdd(g, d, TOps.Load(products + c)));
                        }
                        for (int c = vectorEnd; c < channels; c++)
                        {
                            float d = x[c] - center[c];
                            float g = relu ? ScalarOps.WherePositive(ScalarOps.MultiplyAdd(d, scale[c], shift[c]), dy[c]) : dy[c];
                            grads[c] += g;
                            products[c] = ScalarOps.MultiplyAdd(g, d, products[c]);
                        }
                    }
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsGradInput(BatchNormFast.Plan plan, int r0, int r1)
    {
        int channels = plan.Channels;
        int vectorEnd = channels - channels % TOps.Count;
        bool relu = plan.Relu;
        fixed (float* center = plan.Center, scale = plan.Scale, shift = plan.Shift,
               k = plan.GradScale, beta = plan.GradBeta, gamma = plan.GradGamma)
        {
            for (int r = r0; r < r1; r++)
            {
                float* x = plan.Input + (long)r * channels;
                float* dy = plan.GradOutput + (long)r * channels;
                float* dx = plan.GradInput + (long)r * channels;
                for (int c = 0; c < vectorEnd; c += TOps.Count)
                {
                    var g = TOps.Load(dy + c);
                    var d = TOps.Subtract(TOps.Load(x + c), TOps.Load(center + c));
                    if (relu)
                    {
                        g = TOps.WherePositive(TOps.MultiplyAdd(d, TOps.Load(scale + c), TOps.Load(shift + c)), g);
                    }
                    TOps.Store(dx + c, TOps.MultiplyAdd(g, TOps.Load(k + c), TOps.MultiplyAdd(d, TOps.Load(beta + c), TOps.Load(gamma + c))));
                }
                for (int c = vectorEnd; c < channels; c++)
                {
                    float d = x[c] - center[c];
                    float g = relu ? ScalarOps.WherePositive(ScalarOps.MultiplyAdd(d, scale[c], shift[c]), dy[c]) : dy[c];
                    dx[c] = ScalarOps.MultiplyAdd(g, k[c], ScalarOps.MultiplyAdd(d, beta[c], gamma[c]));
                }
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Start of part <paramref name="part"/> when <paramref name="total"/> items are cut into <paramref name="parts"/> even parts.</summary>
    private static int Split(int total, int part, int parts) => (int)((long)total * part / parts);

    private static void For(BatchNormFast.Plan plan, int count, Action<int> body)
    {
        if (plan.Workers == 1 || count <= 1)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }
            return;
        }
        Parallel.For(0, count, body);
    }
}
