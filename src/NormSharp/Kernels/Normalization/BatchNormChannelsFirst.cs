using System.Runtime.CompilerServices;

namespace NormSharp.Kernels;

/// <summary>
/// Batch normalization, channels first ([outer, channels, inner], inner &gt; 1): the three ways to cut the work
/// (per channel, streaming over batch rows, split channels; see <see cref="Run"/>), on the run loops of
/// <see cref="BatchNormRuns{TVector, TOps}"/> and the moments of <see cref="MomentKernels{TVector, TOps}"/>.
/// </summary>
internal static unsafe class BatchNormChannelsFirst<TVector, TOps>
    where TVector : struct
    where TOps : struct, ISimdOps<TVector>
{
    public static void Run(BatchNormPlan plan, BatchNormStage stage)
    {
        int channels = plan.Channels;
        // Three ways to cut the work:
        // - per channel: a work item reduces one channel and then writes it while the channel's data is still in the
        //   core's L2, so memory is read once; for channels of up to SlabBytes and at least two per thread;
        // - streaming: each thread takes a block of batch rows and walks it in memory order, all channels, with its own
        //   partial sums; memory is read twice but at full streaming speed; for larger channels;
        // - split: fewer batch rows than threads as well; each channel's rows are cut into parts reduced in parallel.
        if (UsesShortRuns(plan) && stage is BatchNormStage.TrainForward or BatchNormStage.BackwardWithSums)
        {
            RunShortRuns(plan, stage);
            return;
        }
        bool smallChannels = (long)plan.Outer * plan.Inner * sizeof(float) <= SlabBytes;
        bool perChannel = smallChannels && (plan.Workers == 1 || channels >= 2 * plan.Workers);
        bool streaming = !perChannel && (plan.Workers == 1 || plan.Outer >= 2 * plan.Workers);
        if (streaming && stage is BatchNormStage.TrainForward or BatchNormStage.BackwardWithSums)
        {
            RunStreaming(plan, stage);
            return;
        }
        int parts = perChannel ? 1 : Math.Clamp(4 * plan.Workers / Math.Max(1, channels), 1, Math.Max(1, plan.Outer));
        switch (stage)
        {
            case BatchNormStage.TrainForward when perChannel:
                Parallelism.ForEach(channels, plan.Workers, c =>
                {
                    plan.SetStatistics(c, ChannelMoments(plan, c, 0, plan.Outer));
                    ApplyChannel(plan, c, 0, plan.Outer);
                });
                break;

            case BatchNormStage.TrainForward:
            {
                var partial = plan.NewPartials<Moments>(parts);
                Parallelism.ForEach(channels * parts, plan.Workers, item =>
                {
                    int c = item / parts, part = item % parts;
                    var (start, end) = Parallelism.Range(part, parts, plan.Outer);
                    partial[part][c] = ChannelMoments(plan, c, start, end);
                });
                plan.SetStatistics(partial);
                ApplySegments(plan);
                break;
            }
            case BatchNormStage.EvalForward:
                plan.SetForwardCoefficients();
                ApplySegments(plan);
                break;

            case BatchNormStage.BackwardWithSums when perChannel:
                plan.SetForwardCoefficients();
                Parallelism.ForEach(channels, plan.Workers, c =>
                {
                    (plan.SumGrad[c], plan.SumGradCentered[c]) = ChannelGradSums(plan, c, 0, plan.Outer);
                    plan.SetBackwardCoefficients(c);
                    if (plan.GradInput is not null)
                    {
                        GradChannel(plan, c, 0, plan.Outer);
                    }
                });
                break;

            case BatchNormStage.BackwardWithSums:
            {
                plan.SetForwardCoefficients();
                var grads = plan.NewPartials<double>(parts);
                var products = plan.NewPartials<double>(parts);
                Parallelism.ForEach(channels * parts, plan.Workers, item =>
                {
                    int c = item / parts, part = item % parts;
                    var (start, end) = Parallelism.Range(part, parts, plan.Outer);
                    (grads[part][c], products[part][c]) = ChannelGradSums(plan, c, start, end);
                });
                plan.SetGradSums(grads, products);
                GradSegments(plan);
                break;
            }
            case BatchNormStage.BackwardNoSums:
                plan.SetForwardCoefficients();
                plan.SetBackwardCoefficients();
                GradSegments(plan);
                break;
        }
    }

    /// <summary>Bytes of one channel (outer × inner floats) up to which a channel is reduced and written by one thread from its L2 (1 MiB on Zen 4/5; what spills is re-read from L3, still faster than two streaming passes).</summary>
    internal const long SlabBytes = 1024 * 1024;

    /// <summary>
    /// Runs shorter than this many floats (7 × 7 maps) are reduced by <see cref="RunShortRuns"/>: a channel's run is
    /// then a few cache lines lying a whole batch row apart, and a thread walking one channel down the batch waits on
    /// memory for every run (measured (64,512,7,7), 2 threads: statistics 1.9 ms per channel, 0.7 ms in memory order).
    /// </summary>
    internal const int ShortRun = 64;

    /// <summary>
    /// Smallest input (1 MiB) for <see cref="RunShortRuns"/>: a smaller one stays in the cores' caches, where walking a
    /// channel down the batch does not wait on memory and the per-channel schedule's fewer, longer calls win (measured
    /// (8,512,7,7), 0.8 MB, 2 threads: forward 0.26 ms per channel, 0.53 ms in memory order).
    /// </summary>
    internal const long ShortRunMinBytes = 1 << 20;

    /// <summary>Whether the sums of the plan run through <see cref="RunShortRuns"/>: short runs, an input beyond the caches, and batch rows for two blocks per thread.</summary>
    internal static bool UsesShortRuns(BatchNormPlan plan) =>
        plan.Inner < ShortRun && plan.Count * plan.Channels * sizeof(float) >= ShortRunMinBytes && plan.Workers > 1 && plan.Outer >= 2 * plan.Workers;

    // Channels first, short runs: parallel over blocks of batch rows; each thread walks its rows channel after channel,
    // which reads the rows as a few streams in memory order, and reduces the block's runs of a channel as one chunk
    // (per-block partial sums per channel, merged in block order). The outputs follow in memory order.
    private static void RunShortRuns(BatchNormPlan plan, BatchNormStage stage)
    {
        int channels = plan.Channels;
        int parts = Math.Min(plan.Outer, 4 * plan.Workers);
        if (stage == BatchNormStage.TrainForward)
        {
            var partial = plan.NewPartials<Moments>(parts);
            Parallelism.ForRanges(plan.Outer, parts, (part, start, end) =>
            {
                for (int c = 0; c < channels; c++)
                {
                    partial[part][c] = ChannelMoments(plan, c, start, end);
                }
            });
            plan.SetStatistics(partial);
            ApplySegments(plan);
            return;
        }
        plan.SetForwardCoefficients();
        var grads = plan.NewPartials<double>(parts);
        var products = plan.NewPartials<double>(parts);
        Parallelism.ForRanges(plan.Outer, parts, (part, start, end) =>
        {
            for (int c = 0; c < channels; c++)
            {
                (grads[part][c], products[part][c]) = ChannelGradSums(plan, c, start, end);
            }
        });
        plan.SetGradSums(grads, products);
        GradSegments(plan);
    }

    // Channels first, streaming: parallel over blocks of batch rows in memory order, per-block partial sums per channel.
    private static void RunStreaming(BatchNormPlan plan, BatchNormStage stage)
    {
        int channels = plan.Channels;
        int parts = plan.Workers == 1 ? 1 : Math.Min(plan.Outer, 4 * plan.Workers);
        if (stage == BatchNormStage.TrainForward)
        {
            var partial = plan.NewPartials<Moments>(parts);
            Parallelism.ForRanges(plan.Outer, parts, (part, start, end) => RangeMoments(plan, start, end, partial[part]));
            plan.SetStatistics(partial);
            ApplySegments(plan);
            return;
        }
        plan.SetForwardCoefficients();
        var grads = plan.NewPartials<double>(parts);
        var products = plan.NewPartials<double>(parts);
        Parallelism.ForRanges(plan.Outer, parts, (part, start, end) =>
        {
            for (int o = start; o < end; o++)
            {
                for (int c = 0; c < channels; c++)
                {
                    long offset = ((long)o * channels + c) * plan.Inner;
                    BatchNormRuns<TVector, TOps>.GradSums(plan.GradOutput + offset, plan.Input + offset, plan.Inner,
                        plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, ref grads[part][c], ref products[part][c]);
                }
            }
        });
        plan.SetGradSums(grads, products);
        GradSegments(plan);
    }

    // Adds to moments[c] the moments of every channel over batch rows [o0, o1), in memory order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RangeMoments(BatchNormPlan plan, int o0, int o1, Moments[] moments)
    {
        int channels = plan.Channels, inner = plan.Inner;
        for (int o = o0; o < o1; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                float* segment = plan.Input + ((long)o * channels + c) * inner;
                for (int start = 0; start < inner; start += Moments.ChunkLength)
                {
                    int length = Math.Min(Moments.ChunkLength, inner - start);
                    MomentKernels<TVector, TOps>.ChunkMoments(segment + start, length, out double mean, out double m2);
                    moments[c].Merge(length, mean, m2);
                }
            }
        }
    }

    // Moments of channel c over batch rows [o0, o1), chunk by chunk.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Moments ChannelMoments(BatchNormPlan plan, int c, int o0, int o1)
    {
        var moments = default(Moments);
        int inner = plan.Inner;
        long stride = (long)plan.Channels * inner;
        if (inner > 0 && inner < Moments.ChunkLength)
        {
            // short runs (7 × 7, 14 × 14 maps): several batch rows of the channel form one chunk
            int perChunk = Moments.ChunkLength / inner;
            for (int o = o0; o < o1; o += perChunk)
            {
                int segments = Math.Min(perChunk, o1 - o);
                MomentKernels<TVector, TOps>.SegmentMoments(plan.Input + ((long)o * plan.Channels + c) * inner, inner, stride, segments, out double mean, out double m2);
                moments.Merge((double)segments * inner, mean, m2);
            }
            return moments;
        }
        for (int o = o0; o < o1; o++)
        {
            float* segment = plan.Input + ((long)o * plan.Channels + c) * inner;
            PrefetchHead(segment + stride, inner);
            for (int start = 0; start < inner; start += Moments.ChunkLength)
            {
                int length = Math.Min(Moments.ChunkLength, inner - start);
                MomentKernels<TVector, TOps>.ChunkMoments(segment + start, length, out double mean, out double m2);
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

    // Σ g and Σ g · (x − Center) of channel c over batch rows [o0, o1), g the (ReLU-masked) upstream gradient.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double SumGrad, double SumCentered) ChannelGradSums(BatchNormPlan plan, int c, int o0, int o1)
    {
        double sumGrad = 0, sumCentered = 0;
        int inner = plan.Inner;
        if (inner > 0 && inner < Moments.ChunkLength)
        {
            // short runs: several batch rows per float accumulation, as in ChannelMoments
            int perChunk = Moments.ChunkLength / inner;
            for (int o = o0; o < o1; o += perChunk)
            {
                long offset = ((long)o * plan.Channels + c) * inner;
                BatchNormRuns<TVector, TOps>.SegmentGradSums(plan.GradOutput + offset, plan.Input + offset, inner, (long)plan.Channels * inner, Math.Min(perChunk, o1 - o),
                    plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, ref sumGrad, ref sumCentered);
            }
            return (sumGrad, sumCentered);
        }
        for (int o = o0; o < o1; o++)
        {
            long offset = ((long)o * plan.Channels + c) * inner;
            PrefetchHead(plan.GradOutput + offset + (long)plan.Channels * inner, inner);
            PrefetchHead(plan.Input + offset + (long)plan.Channels * inner, inner);
            BatchNormRuns<TVector, TOps>.GradSums(plan.GradOutput + offset, plan.Input + offset, inner,
                plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, ref sumGrad, ref sumCentered);
        }
        return (sumGrad, sumCentered);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ApplyChannel(BatchNormPlan plan, int c, int o0, int o1)
    {
        for (int o = o0; o < o1; o++)
        {
            long offset = ((long)o * plan.Channels + c) * plan.Inner;
            BatchNormRuns<TVector, TOps>.Affine(plan.Input + offset, plan.Output + offset, plan.Inner, plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, plan.Streaming);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradChannel(BatchNormPlan plan, int c, int o0, int o1)
    {
        for (int o = o0; o < o1; o++)
        {
            long offset = ((long)o * plan.Channels + c) * plan.Inner;
            BatchNormRuns<TVector, TOps>.GradInput(plan.GradOutput + offset, plan.Input + offset, plan.GradInput + offset, plan.Inner,
                plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, plan.GradScale[c], plan.GradBeta[c], plan.GradGamma[c], plan.Streaming);
        }
    }

    // y over every (o, c) segment, in parallel over ranges of segments.
    private static void ApplySegments(BatchNormPlan plan)
    {
        int segments = plan.Outer * plan.Channels;
        Parallelism.ForRanges(segments, SegmentRanges(plan, segments), (_, start, end) =>
        {
            for (int s = start; s < end; s++)
            {
                int c = s % plan.Channels;
                long offset = (long)s * plan.Inner;
                BatchNormRuns<TVector, TOps>.Affine(plan.Input + offset, plan.Output + offset, plan.Inner, plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, plan.Streaming);
            }
        });
    }

    // dx over every (o, c) segment, when dx is wanted.
    private static void GradSegments(BatchNormPlan plan)
    {
        if (plan.GradInput is null)
        {
            return;
        }
        int segments = plan.Outer * plan.Channels;
        Parallelism.ForRanges(segments, SegmentRanges(plan, segments), (_, start, end) =>
        {
            for (int s = start; s < end; s++)
            {
                int c = s % plan.Channels;
                long offset = (long)s * plan.Inner;
                BatchNormRuns<TVector, TOps>.GradInput(plan.GradOutput + offset, plan.Input + offset, plan.GradInput + offset, plan.Inner,
                    plan.Center[c], plan.Scale[c], plan.Shift[c], plan.Relu, plan.GradScale[c], plan.GradBeta[c], plan.GradGamma[c], plan.Streaming);
            }
        });
    }

    // Eight ranges per thread even out segments that end in a slow cache miss; one range without threads.
    private static int SegmentRanges(BatchNormPlan plan, int segments) => plan.Workers == 1 ? 1 : Math.Min(segments, 8 * plan.Workers);
}
