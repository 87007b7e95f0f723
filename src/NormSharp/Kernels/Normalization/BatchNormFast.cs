using System.Runtime.Intrinsics;

namespace NormSharp.Kernels;

/// <summary>
/// Batch normalization, fast kernels: same contract as <c>BatchNormReference</c> (float only), vectorized with
/// Vector512 / Vector256 / scalar through <see cref="ISimdOps{TVector}"/> and threaded, and tested against the
/// reference on every length 0..257 and odd shapes in both layouts. Backward derivation: docs/derivations/batchnorm.md.
/// </summary>
/// <remarks>
/// <para>The input is the [outer, channels, inner] view of the reference kernels. Two layouts, two strategies:</para>
/// <list type="bullet">
/// <item>Channels first (inner &gt; 1), channels of up to 1 MiB (<see cref="BatchNormChannelsFirst{TVector, TOps}.SlabBytes"/>): parallel over channels. Each thread takes a channel,
/// reduces it and then writes it while the channel's data (outer × inner floats) is still in its L2 cache, so a
/// training forward reads the input from memory about once instead of twice; the next batch row of the channel is
/// prefetched while the current one is summed. Larger channels: parallel over blocks of batch rows walked in memory
/// order, per-thread partial sums per channel (two streaming passes). Fewer batch rows than threads as well: each
/// channel's rows are cut into parts reduced in parallel. Runs shorter than <see cref="BatchNormChannelsFirst{TVector, TOps}.ShortRun"/>
/// floats (7 × 7 maps), threaded: parallel over blocks of batch rows, each walked channel after channel in memory order
/// (a channel's short runs lie a batch row apart, and walking one channel down the batch waits on memory for each).</item>
/// <item>Channels last (inner = 1, and BatchNorm1d on [N, C]): parallel over blocks of rows, vectors across
/// channels, per-thread partial sums merged per channel. The statistics walk down the columns of a cache-resident block
/// of rows with the sums in registers; the backward's sums do so for rows of up to four vectors and go row by row
/// (sums in L1) for longer rows; outputs are written row by row, in memory order.</item>
/// </list>
/// <para>Statistics (<see cref="Moments"/>, <see cref="MomentKernels{TVector, TOps}"/>): chunks of at most <see cref="Moments.ChunkLength"/> elements (L1-resident) are reduced exactly in two
/// passes (mean, then squared deviations with the Chan–Golub–LeVeque correction), and the chunks' (count, mean, M2)
/// are merged in double with Chan's formula. Memory is read once and a channel with mean 1e4 and standard
/// deviation 1e-2 still gets its variance to float accuracy; the variance is never negative, and a chunk whose float
/// sums overflow (finite inputs beyond about 1e19) is reduced again in double, so finite input gets finite statistics.</para>
/// <para>Normalization is folded per channel into y = (x − m) · scale + shift with m the mean rounded to float,
/// scale = weight · invStd and shift = bias + (m − mean) · scale: one subtract and one FMA per element. The plain
/// fold y = x · scale + shift would subtract two numbers near 1e6 in float for the offset channel above; it is used
/// only where x − m itself could overflow (data spread over most of float's range, <see cref="Moments.CenteringMayOverflow"/>).</para>
/// <para>Large training outputs (y, dx) are written with non-temporal stores (<see cref="StreamingFloats"/>):
/// a plain store to an uncached line first reads it from memory. The <c>streaming</c> argument of each entry point
/// overrides that choice (tests compare both, bit for bit, at every alignment).</para>
/// <para>The backward is linear in (dy, x − m): dx = k · dy + beta · (x − m) + gamma, with k = weight · invStd,
/// beta = −k · invStd² · Σ dy (x − mean) / M and gamma = −k · Σ dy / M + beta · (m − mean) (training), or
/// beta = gamma = 0 (evaluation). With <c>relu</c> the ReLU that follows the normalization is fused in: the forward
/// writes max(y, 0) and the backward uses dy · [y &gt; 0], recomputing y from x instead of reading a saved output.</para>
/// </remarks>
internal static unsafe class BatchNormFast
{
    /// <summary>
    /// Training outputs (y, dx) of at least this many floats (16 MiB, beyond what the caches keep for the next layer) are
    /// written with non-temporal stores, where they pay (<see cref="Simd.NonTemporalStoresPay"/>), when the layout is channels first with runs of at least <see cref="StreamingRun"/> floats, or
    /// channels last with every row vector-aligned (whole vectors of channels, an aligned output such as a pooled tensor's):
    /// a normal store to a line that is not cached first reads it from memory, a third more traffic for an output.
    /// </summary>
    internal const long StreamingFloats = 1L << 22;

    /// <summary>Shortest run (inner length) written with non-temporal stores: shorter runs spend too much in scalar heads and partial lines (measured slower at 14 × 14 maps, about 10% faster at 56 × 56).</summary>
    internal const int StreamingRun = 1024;

    /// <summary>
    /// Training forward; same contract as <c>BatchNormReference.ForwardTraining</c>, plus <paramref name="relu"/>
    /// (write max(y, 0)) and the vector width to use.
    /// </summary>
    // input, output: [outer, channels, inner]; weight, bias: [channels] or empty; runningMean, runningVar: [channels]
    // or empty (updated in place); mean, invStd: [channels] (saved for the backward)
    public static void ForwardTraining(
        ReadOnlySpan<float> input, int outer, int channels, int inner,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, double eps, double momentum,
        Span<float> runningMean, Span<float> runningVar,
        Span<double> mean, Span<double> invStd, Span<float> output,
        bool relu = false, SimdWidth width = SimdWidth.Auto, bool? streaming = null)
    {
        NormChecks.CheckChannelArguments(outer, channels, inner, input.Length, output.Length, nameof(output), mean.Length, invStd.Length, weight.Length, bias.Length);
        NormChecks.CheckRunning(runningMean.Length, runningVar.Length, channels);
        var variance = new double[channels];
        fixed (float* x = input, y = output, w = weight, b = bias)
        {
            var plan = new BatchNormPlan(x, y, outer, channels, inner, w, b, relu, Simd.Resolve(width)) { Eps = eps, Streaming = streaming ?? ChoosesStreaming(outer, channels, inner) };
            Run(plan, BatchNormStage.TrainForward);
            plan.Mean.CopyTo(mean);
            plan.InvStd.CopyTo(invStd);
            plan.Variance.CopyTo(variance);
        }
        if (!runningMean.IsEmpty)
        {
            RunningStatistics.Update(mean, variance, (long)outer * inner, momentum, runningMean, runningVar);
        }
    }

    /// <summary>
    /// Evaluation forward with running statistics, y = (x − runningMean) / √(runningVar + eps) · weight + bias
    /// (folded per channel); same contract as <c>BatchNormReference.ForwardInference</c>, plus <paramref name="relu"/>.
    /// </summary>
    // input, output: [outer, channels, inner]; weight, bias: [channels] or empty; runningMean, runningVar, mean, invStd: [channels]
    public static void ForwardInference(
        ReadOnlySpan<float> input, int outer, int channels, int inner,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, double eps,
        Span<double> mean, Span<double> invStd, Span<float> output,
        bool relu = false, SimdWidth width = SimdWidth.Auto, bool? streaming = null)
    {
        NormChecks.CheckChannelArguments(outer, channels, inner, input.Length, output.Length, nameof(output), mean.Length, invStd.Length, weight.Length, bias.Length);
        NormChecks.CheckLength(runningMean.Length, channels, nameof(runningMean));
        NormChecks.CheckLength(runningVar.Length, channels, nameof(runningVar));
        for (int c = 0; c < channels; c++)
        {
            mean[c] = runningMean[c];
            invStd[c] = 1 / Math.Sqrt(runningVar[c] + eps);
        }
        // Evaluation writes through the caches: the output of an inference loop often reuses the memory of the
        // previous, disposed output while it is still cached (measured with one output buffer, (32,64,56,56): 0.42 ms
        // with plain stores vs 0.54 ms non-temporal; channels last, 25088 rows of 256: 0.50 vs 0.57 ms).
        fixed (float* x = input, y = output, w = weight, b = bias)
        {
            var plan = new BatchNormPlan(x, y, outer, channels, inner, w, b, relu, Simd.Resolve(width)) { Streaming = streaming ?? false };
            mean.CopyTo(plan.Mean);
            invStd.CopyTo(plan.InvStd);
            Run(plan, BatchNormStage.EvalForward);
        }
    }

    /// <summary>
    /// Backward in closed form; same contract as <c>BatchNormReference.Backward</c>, plus <paramref name="bias"/> and
    /// <paramref name="relu"/> for the fused ReLU (the gradient is masked by y &gt; 0, y recomputed from the input).
    /// Training: dx = weight · invStd / M · (M · dy − Σ dy − x̂ · Σ dy · x̂); evaluation: dx = weight · invStd · dy;
    /// both: gradWeight = Σ dy · x̂, gradBias = Σ dy. Empty destinations are skipped.
    /// </summary>
    // input, gradOutput, gradInput: [outer, channels, inner]; weight, bias: [channels] or empty; mean, invStd: [channels];
    // gradInput, gradWeight, gradBias: may be empty
    public static void Backward(
        ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, int outer, int channels, int inner,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd, bool training,
        Span<float> gradInput, Span<float> gradWeight, Span<float> gradBias,
        bool relu = false, SimdWidth width = SimdWidth.Auto, bool? streaming = null)
    {
        NormChecks.CheckChannelArguments(outer, channels, inner, input.Length, gradOutput.Length, nameof(gradOutput), mean.Length, invStd.Length, weight.Length, bias.Length);
        NormChecks.CheckGradients(outer, channels, inner, gradInput.Length, gradWeight.Length, gradBias.Length);
        fixed (float* x = input, dy = gradOutput, dx = gradInput, w = weight, b = bias)
        {
            var plan = new BatchNormPlan(x, null, outer, channels, inner, w, b, relu, Simd.Resolve(width))
            {
                GradOutput = dy,
                GradInput = gradInput.IsEmpty ? null : dx,
                Training = training,
                Streaming = streaming ?? ChoosesStreaming(outer, channels, inner),
            };
            mean.CopyTo(plan.Mean);
            invStd.CopyTo(plan.InvStd);
            Run(plan, training || !gradWeight.IsEmpty || !gradBias.IsEmpty ? BatchNormStage.BackwardWithSums : BatchNormStage.BackwardNoSums);
            for (int c = 0; c < channels; c++)
            {
                if (!gradWeight.IsEmpty)
                {
                    gradWeight[c] = (float)plan.GradWeight(c);
                }
                if (!gradBias.IsEmpty)
                {
                    gradBias[c] = (float)plan.SumGrad[c];
                }
            }
        }
    }

    /// <summary>Runs <paramref name="stage"/> with the layout's kernels compiled for the plan's vector width.</summary>
    private static void Run(BatchNormPlan plan, BatchNormStage stage)
    {
        switch (plan.Width)
        {
            case SimdWidth.Vector512:
                Run<Vector512<float>, Vector512Ops>(plan, stage);
                break;
            case SimdWidth.Vector256:
                Run<Vector256<float>, Vector256Ops>(plan, stage);
                break;
            default:
                Run<float, ScalarOps>(plan, stage);
                break;
        }
        plan.KeepCoefficientsAlive();
    }

    private static void Run<TVector, TOps>(BatchNormPlan plan, BatchNormStage stage)
        where TVector : struct
        where TOps : struct, ISimdOps<TVector>
    {
        if (plan.Inner == 1)
        {
            BatchNormChannelsLast<TVector, TOps>.Run(plan, stage);
        }
        else
        {
            BatchNormChannelsFirst<TVector, TOps>.Run(plan, stage);
        }
    }

    /// <summary>Whether training outputs of the [outer, channels, inner] view are written with non-temporal stores by default.</summary>
    internal static bool ChoosesStreaming(int outer, int channels, int inner) =>
        Simd.NonTemporalStoresPay && (inner >= StreamingRun || inner == 1) && (long)outer * channels * inner >= StreamingFloats;
}
