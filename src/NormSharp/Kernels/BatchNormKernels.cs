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
        // Three ways to cut the work:
        // - per channel: a work item reduces one channel and then writes it while the channel's data is still in the
        //   core's L2, so memory is read once; for channels of up to SlabBytes and at least two per thread;
        // - streaming: each thread takes a block of batch rows and walks it in memory order, all channels, with its own
        //   partial sums; memory is read twice but at full streaming speed; for larger channels;
        // - split: fewer batch rows than threads as well; each channel's rows are cut into parts reduced in parallel.
        bool smallChannels = (long)plan.Outer * plan.Inner * sizeof(float) <= SlabBytes;
        bool perChannel = smallChannels && (plan.Workers == 1 || channels >= 2 * plan.Workers);
        bool streaming = !perChannel && (plan.Workers == 1 || plan.Outer >= 2 * plan.Workers);
        if (streaming && stage is BatchNormFast.Stage.TrainForward or BatchNormFast.Stage.BackwardWithSums)
        {
            RunStreaming(plan, stage);
            return;
        }
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

    /// <summary>Bytes of one channel (outer × inner floats) up to which a channel is reduced and written by one thread from its L2 (1 MiB on Zen 4/5; what spills is re-read from L3, still faster than two streaming passes).</summary>
    private const long SlabBytes = 1024 * 1024;

    // Channels first, streaming: parallel over blocks of batch rows in memory order, per-block partial sums per channel.
    private static void RunStreaming(BatchNormFast.Plan plan, BatchNormFast.Stage stage)
    {
        int channels = plan.Channels;
        int parts = plan.Workers == 1 ? 1 : Math.Min(plan.Outer, 4 * plan.Workers);
        if (stage == BatchNormFast.Stage.TrainForward)
        {
            var partial = new BatchNormFast.Moments[parts][];
            For(plan, parts, part => partial[part] = RangeMoments(plan, Split(plan.Outer, part, parts), Split(plan.Outer, part + 1, parts)));
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
            ApplySegments(plan);
            return;
        }
        for (int c = 0; c < channels; c++)
        {
            plan.SetForwardCoefficients(c);
        }
        var grads = new double[parts][];
        var products = new double[parts][];
        For(plan, parts, part =>
        {
            grads[part] = new double[channels];
            products[part] = new double[channels];
            for (int o = Split(plan.Outer, part, parts); o < Split(plan.Outer, part + 1, parts); o++)
            {
                for (int c = 0; c < channels; c++)
                {
                    long offset = ((long)o * channels + c) * plan.Inner;
                    GradSums(plan.GradOutput + offset, plan.Input + offset, plan.Inner,
                        plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, ref grads[part][c], ref products[part][c]);
                }
            }
        });
        for (int c = 0; c < channels; c++)
        {
            for (int part = 0; part < parts; part++)
            {
                plan.SumGrad[c] += grads[part][c];
                plan.SumGradCentered[c] += products[part][c];
            }
            plan.SetBackwardCoefficients(c);
        }
        if (plan.GradInput is not null)
        {
            GradSegments(plan);
        }
    }

    // Moments of every channel over batch rows [o0, o1), in memory order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static BatchNormFast.Moments[] RangeMoments(BatchNormFast.Plan plan, int o0, int o1)
    {
        int channels = plan.Channels, inner = plan.Inner;
        var moments = new BatchNormFast.Moments[channels];
        for (int o = o0; o < o1; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                float* segment = plan.Input + ((long)o * channels + c) * inner;
                for (int start = 0; start < inner; start += BatchNormFast.ChunkLength)
                {
                    int length = Math.Min(BatchNormFast.ChunkLength, inner - start);
                    ChunkMoments(segment + start, length, out double mean, out double m2);
                    moments[c].Merge(length, mean, m2);
                }
            }
        }
        return moments;
    }

    // Moments of channel c over batch rows [o0, o1), chunk by chunk.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static BatchNormFast.Moments ChannelMoments(BatchNormFast.Plan plan, int c, int o0, int o1)
    {
        var moments = default(BatchNormFast.Moments);
        int inner = plan.Inner;
        long stride = (long)plan.Channels * inner;
        if (inner > 0 && inner < BatchNormFast.ChunkLength)
        {
            // short runs (7 × 7, 14 × 14 maps): several batch rows of the channel form one chunk
            int perChunk = BatchNormFast.ChunkLength / inner;
            for (int o = o0; o < o1; o += perChunk)
            {
                int segments = Math.Min(perChunk, o1 - o);
                SegmentMoments(plan.Input + ((long)o * plan.Channels + c) * inner, inner, stride, segments, out double mean, out double m2);
                moments.Merge((double)segments * inner, mean, m2);
            }
            return moments;
        }
        for (int o = o0; o < o1; o++)
        {
            float* segment = plan.Input + ((long)o * plan.Channels + c) * inner;
            PrefetchHead(segment + stride, inner);
            for (int start = 0; start < inner; start += BatchNormFast.ChunkLength)
            {
                int length = Math.Min(BatchNormFast.ChunkLength, inner - start);
                ChunkMoments(segment + start, length, out double mean, out double m2);
                moments.Merge(length, mean, m2);
            }
        }
        return moments;
    }

    // Requests the first KiB of a long run (the hardware prefetcher follows once the run streams).
    private static void PrefetchHead(float* run, int length)
    {
        for (int i = 0; i < Math.Min(length, 256); i += 16)
        {
            TOps.Prefetch(run + i);
        }
    }

    // Exact moments of `segments` runs of `length` floats, `stride` apart (together at most ChunkLength floats):
    // the two passes of ChunkMoments over all of them.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void SegmentMoments(float* x, int length, long stride, int segments, out double mean, out double m2)
    {
        int vectorEnd = length - length % TOps.Count;
        double count = (double)segments * length;
        var sumVector = TOps.Zero;
        float tail = 0;
        float* segment = x;
        for (int s = 0; s < segments; s++, segment += stride)
        {
            // the runs are a channel's rows, far apart: ask for the next run's lines while summing this one
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
        double sumDeviations = TOps.Sum(deviations) + tailDeviations, sumSquares = TOps.Sum(squares) + tailSquares;
        mean = count > 0 ? first + sumDeviations / count : 0;
        m2 = count > 0 ? Math.Max(0, sumSquares - sumDeviations * sumDeviations / count) : 0;
    }

    // Σ g and Σ g · (x − Center) of channel c over batch rows [o0, o1), g the (ReLU-masked) upstream gradient.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double SumGrad, double SumCentered) ChannelGradSums(BatchNormFast.Plan plan, int c, int o0, int o1)
    {
        double sumGrad = 0, sumCentered = 0;
        int inner = plan.Inner;
        if (inner > 0 && inner < BatchNormFast.ChunkLength)
        {
            // short runs: several batch rows per float accumulation, as in ChannelMoments
            int perChunk = BatchNormFast.ChunkLength / inner;
            for (int o = o0; o < o1; o += perChunk)
            {
                long offset = ((long)o * plan.Channels + c) * inner;
                SegmentGradSums(plan.GradOutput + offset, plan.Input + offset, inner, (long)plan.Channels * inner, Math.Min(perChunk, o1 - o),
                    plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, ref sumGrad, ref sumCentered);
            }
            return (sumGrad, sumCentered);
        }
        for (int o = o0; o < o1; o++)
        {
            long offset = ((long)o * plan.Channels + c) * inner;
            PrefetchHead(plan.GradOutput + offset + (long)plan.Channels * inner, inner);
            PrefetchHead(plan.Input + offset + (long)plan.Channels * inner, inner);
            GradSums(plan.GradOutput + offset, plan.Input + offset, inner,
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
            Affine(plan.Input + offset, plan.Output + offset, plan.Inner, plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, plan.Streaming);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradChannel(BatchNormFast.Plan plan, int c, int o0, int o1)
    {
        for (int o = o0; o < o1; o++)
        {
            long offset = ((long)o * plan.Channels + c) * plan.Inner;
            GradInput(plan.GradOutput + offset, plan.Input + offset, plan.GradInput + offset, plan.Inner,
                plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, plan.GradScale[c], plan.GradBeta[c], plan.GradGamma[c], plan.Streaming);
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
                Affine(plan.Input + offset, plan.Output + offset, plan.Inner, plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, plan.Streaming);
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
                    plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, plan.GradScale[c], plan.GradBeta[c], plan.GradGamma[c], plan.Streaming);
            }
        });
    }

    // ---------------------------------------------------------------- contiguous runs of one channel

    // Exact moments of x[0..n) (n <= ChunkLength): float mean, then centred sums with the rounding correction.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ChunkMoments(float* x, int n, out double mean, out double m2)
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
        mean = n > 0 ? first + sumDeviations / n : 0;
        m2 = n > 0 ? Math.Max(0, sumSquares - sumDeviations * sumDeviations / n) : 0;
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
        int head = streaming ? AlignmentHead(y, n) : 0;
        AffineScalar(x, y, 0, head, center, scale, shift, relu);
        int vectorEnd = head + (n - head) / TOps.Count * TOps.Count;
        TVector c = TOps.Broadcast(center), s = TOps.Broadcast(scale), b = TOps.Broadcast(shift);
        for (int i = head; i < vectorEnd; i += TOps.Count)
        {
            var v = TOps.MultiplyAdd(TOps.Subtract(TOps.Load(x + i), c), s, b);
            Put(y + i, relu ? TOps.Relu(v) : v, streaming);
        }
        AffineScalar(x, y, vectorEnd, n, center, scale, shift, relu);
        EndStreaming(streaming);
    }

    private static void AffineScalar(float* x, float* y, int start, int end, float center, float scale, float shift, bool relu)
    {
        for (int i = start; i < end; i++)
        {
            float v = ScalarOps.MultiplyAdd(x[i] - center, scale, shift);
            y[i] = relu ? ScalarOps.Relu(v) : v;
        }
    }

    // Elements of a run starting at p before the first address aligned to the vector size (all n when none is).
    private static int AlignmentHead(float* p, int n)
    {
        int bytes = TOps.Count * sizeof(float);
        int misalignment = (int)((nuint)p % (nuint)bytes);
        return misalignment == 0 ? 0 : Math.Min(n, (bytes - misalignment) / sizeof(float));
    }

    // Non-temporal stores are weakly ordered: fence them before another thread may read what this one wrote.
    private static void EndStreaming(bool streaming)
    {
        if (streaming && System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            System.Runtime.Intrinsics.X86.Sse.StoreFence();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* destination, TVector value, bool streaming)
    {
        if (streaming)
        {
            TOps.StoreStreaming(destination, value);
        }
        else
        {
            TOps.Store(destination, value);
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
        int head = streaming ? AlignmentHead(dx, n) : 0;
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
            Put(dx + i, TOps.MultiplyAdd(g, vk, TOps.MultiplyAdd(d, vBeta, vGamma)), streaming);
        }
        GradInputScalar(dy, x, dx, vectorEnd, n, center, scale, shift, relu, k, beta, gamma);
        EndStreaming(streaming);
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

    // Per-channel moments of rows [r0, r1): blocks of rows reduced exactly in two passes (the block stays in cache),
    // then merged into double moments per channel. Every channel has the same count, so Chan's merge weights are two
    // scalars per block and the per-channel merge is a few multiply-adds.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static BatchNormFast.Moments[] RowsMoments(BatchNormFast.Plan plan, int r0, int r1)
    {
        int channels = plan.Channels;
        var mean = new double[channels];
        var m2 = new double[channels];
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
                    BlockMoments(plan.Input + (long)b0 * channels, n, channels, first, deviations, squares);
                    double total = count + n, inverse = 1.0 / n;
                    double meanWeight = n / total, m2Weight = count * n / total;
                    for (int c = 0; c < channels; c++)
                    {
                        double blockMean = first[c] + deviations[c] * inverse;
                        double blockM2 = Math.Max(0, squares[c] - (double)deviations[c] * deviations[c] * inverse);
                        double delta = blockMean - mean[c];
                        mean[c] += delta * meanWeight;
                        m2[c] += blockM2 + delta * delta * m2Weight;
                    }
                    count = total;
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(scratch);
        }
        var moments = new BatchNormFast.Moments[channels];
        for (int c = 0; c < channels; c++)
        {
            moments[c] = new BatchNormFast.Moments { Count = count, Mean = mean[c], M2 = m2[c] };
        }
        return moments;
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
            TOps.Store(first + c, s0);
            TOps.Store(first + c + width, s1);
            TOps.Store(first + c + 2 * width, s2);
            TOps.Store(first + c + 3 * width, s3);
            TOps.Store(deviations + c, d0);
            TOps.Store(deviations + c + width, d1);
            TOps.Store(deviations + c + 2 * width, d2);
            TOps.Store(deviations + c + 3 * width, d3);
            TOps.Store(squares + c, q0);
            TOps.Store(squares + c + width, q1);
            TOps.Store(squares + c + 2 * width, q2);
            TOps.Store(squares + c + 3 * width, q3);
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
    private static void RowsAffine(BatchNormFast.Plan plan, int r0, int r1)
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
                Put(y + c, relu ? TOps.Relu(v0) : v0, streaming);
                Put(y + c + width, relu ? TOps.Relu(v1) : v1, streaming);
            }
            for (; c < vectorEnd; c += width)
            {
                var v0 = TOps.MultiplyAdd(TOps.Subtract(TOps.Load(x + c), TOps.Load(center + c)), TOps.Load(scale + c), TOps.Load(shift + c));
                Put(y + c, relu ? TOps.Relu(v0) : v0, streaming);
            }
            for (; c < channels; c++)
            {
                float v = ScalarOps.MultiplyAdd(x[c] - center[c], scale[c], shift[c]);
                y[c] = relu ? ScalarOps.Relu(v) : v;
            }
        }
        EndStreaming(streaming);
    }

    // sumGrad[c] += Σ g, sumCentered[c] += Σ g (x − center[c]) over rows [r0, r1); float per block, double across blocks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsGradSums(BatchNormFast.Plan plan, int r0, int r1, double[] sumGrad, double[] sumCentered)
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
    // (ReLU-masked) upstream gradient; four vectors of columns at a time with the sums in registers. The vector and
    // scalar columns are those of RowsAffine, so the recomputed ReLU mask matches the forward's output exactly.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BlockGradSums(float* x, float* dy, int rows, int channels, float* center, float* scale, float* shift, bool relu,
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
            TOps.Store(grads + c, g0);
            TOps.Store(grads + c + width, g1);
            TOps.Store(grads + c + 2 * width, g2);
            TOps.Store(grads + c + 3 * width, g3);
            TOps.Store(products + c, p0);
            TOps.Store(products + c + width, p1);
            TOps.Store(products + c + 2 * width, p2);
            TOps.Store(products + c + 3 * width, p3);
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

    // dx = k · g + beta · (x − center) + gamma over rows [r0, r1), g the (ReLU-masked) upstream gradient; in memory
    // order like RowsAffine, with the same vector and scalar columns (so the recomputed mask matches the forward's y).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsGradInput(BatchNormFast.Plan plan, int r0, int r1)
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
                var d0 = TOps.Subtract(TOps.Load(x + c), TOps.Load(center + c));
                var d1 = TOps.Subtract(TOps.Load(x + c + width), TOps.Load(center + c + width));
                var g0 = TOps.Load(dy + c);
                var g1 = TOps.Load(dy + c + width);
                if (relu)
                {
                    g0 = TOps.WherePositive(TOps.MultiplyAdd(d0, TOps.Load(scale + c), TOps.Load(shift + c)), g0);
                    g1 = TOps.WherePositive(TOps.MultiplyAdd(d1, TOps.Load(scale + c + width), TOps.Load(shift + c + width)), g1);
                }
                Put(dx + c, TOps.MultiplyAdd(g0, TOps.Load(k + c), TOps.MultiplyAdd(d0, TOps.Load(beta + c), TOps.Load(gamma + c))), streaming);
                Put(dx + c + width, TOps.MultiplyAdd(g1, TOps.Load(k + c + width), TOps.MultiplyAdd(d1, TOps.Load(beta + c + width), TOps.Load(gamma + c + width))), streaming);
            }
            for (; c < vectorEnd; c += width)
            {
                var d0 = TOps.Subtract(TOps.Load(x + c), TOps.Load(center + c));
                var g0 = TOps.Load(dy + c);
                if (relu)
                {
                    g0 = TOps.WherePositive(TOps.MultiplyAdd(d0, TOps.Load(scale + c), TOps.Load(shift + c)), g0);
                }
                Put(dx + c, TOps.MultiplyAdd(g0, TOps.Load(k + c), TOps.MultiplyAdd(d0, TOps.Load(beta + c), TOps.Load(gamma + c))), streaming);
            }
            for (; c < channels; c++)
            {
                float d = x[c] - center[c];
                float g = relu ? ScalarOps.WherePositive(ScalarOps.MultiplyAdd(d, scale[c], shift[c]), dy[c]) : dy[c];
                dx[c] = ScalarOps.MultiplyAdd(g, k[c], ScalarOps.MultiplyAdd(d, beta[c], gamma[c]));
            }
        }
        EndStreaming(streaming);
    }

    // ---------------------------------------------------------------- helpers

    // Channels last, non-temporal stores: when the plan streams and every row starts vector-aligned (all columns are
    // vector columns and the destination is aligned; pooled tensors are 64-byte aligned). Otherwise plain stores:
    // the bits are the same either way.
    private static bool StreamsRows(BatchNormFast.Plan plan, float* destination) =>
        plan.Streaming && plan.Channels % TOps.Count == 0 && AlignmentHead(destination, TOps.Count) == 0;

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
