using System.Runtime.InteropServices;
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
/// <item>Channels first (inner &gt; 1), channels of up to 192 KiB: parallel over channels. Each thread takes a channel,
/// reduces it and then writes it while the channel's data (outer × inner floats) is still in its L2 cache, so a
/// training forward reads the input from memory about once instead of twice; the next batch row of the channel is
/// prefetched while the current one is summed. Larger channels: parallel over blocks of batch rows walked in memory
/// order, per-thread partial sums per channel (two streaming passes). Fewer batch rows than threads as well: each
/// channel's rows are cut into parts reduced in parallel.</item>
/// <item>Channels last (inner = 1, and BatchNorm1d on [N, C]): parallel over blocks of rows, vectors across
/// channels, per-thread partial sums merged per channel. Sums walk down the columns of a cache-resident block of rows
/// with the sums in registers; outputs are written row by row, in memory order.</item>
/// </list>
/// <para>Statistics: chunks of at most <see cref="ChunkLength"/> elements (L1-resident) are reduced exactly in two
/// passes (mean, then squared deviations with the Chan–Golub–LeVeque correction), and the chunks' (count, mean, M2)
/// are merged in double with Chan's formula. Memory is read once and a channel with mean 1e4 and standard
/// deviation 1e-2 still gets its variance to float accuracy; the variance is never negative.</para>
/// <para>Normalization is folded per channel into y = (x − m) · scale + shift with m the mean rounded to float,
/// scale = weight · invStd and shift = bias + (m − mean) · scale: one subtract and one FMA per element. The plain
/// fold y = x · scale + shift would subtract two numbers near 1e6 in float for the offset channel above.</para>
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
    /// <summary>Elements reduced in one float two-pass chunk before merging in double; a multiple of every vector width.</summary>
    internal const int ChunkLength = 2048;

    /// <summary>
    /// Training outputs (y, dx) of at least this many floats (16 MiB, beyond what the caches keep for the next layer) are
    /// written with non-temporal stores when the layout is channels first with runs of at least <see cref="StreamingRun"/> floats, or
    /// channels last with every row vector-aligned (whole vectors of channels, an aligned output such as a pooled tensor's):
    /// a normal store to a line that is not cached first reads it from memory, a third more traffic for an output.
    /// </summary>
    internal const long StreamingFloats = 1L << 22;

    /// <summary>Shortest run (inner length) written with non-temporal stores: shorter runs spend too much in scalar heads and partial lines (measured slower at 14 × 14 maps, about 10% faster at 56 × 56).</summary>
    internal const int StreamingRun = 1024;

    /// <summary>Elements below which a kernel runs on one thread (thread hand-off costs more than it saves).</summary>
    private const int ParallelThreshold = 1 << 15;

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
        NormalizationReference.CheckView(input.Length, outer, channels, inner, nameof(input));
        NormalizationReference.CheckView(output.Length, outer, channels, inner, nameof(output));
        NormalizationReference.CheckLength(mean.Length, channels, nameof(mean));
        NormalizationReference.CheckLength(invStd.Length, channels, nameof(invStd));
        NormalizationReference.CheckOptional(weight.Length, channels, nameof(weight));
        NormalizationReference.CheckOptional(bias.Length, channels, nameof(bias));
        if (!runningMean.IsEmpty || !runningVar.IsEmpty)
        {
            NormalizationReference.CheckLength(runningMean.Length, channels, nameof(runningMean));
            NormalizationReference.CheckLength(runningVar.Length, channels, nameof(runningVar));
        }
        var variance = new double[channels];
        fixed (float* x = input, y = output, w = weight, b = bias)
        {
            var plan = new Plan(x, y, outer, channels, inner, w, b, relu, Simd.Resolve(width)) { Eps = eps, Streaming = streaming ?? ChoosesStreaming(outer, channels, inner) };
            plan.Run(Stage.TrainForward);
            plan.Mean.CopyTo(mean);
            plan.InvStd.CopyTo(invStd);
            plan.Variance.CopyTo(variance);
        }
        long count = (long)outer * inner;
        if (!runningMean.IsEmpty && count > 0)
        {
            // PyTorch: running = (1 − momentum) · running + momentum · batch, with the unbiased variance.
            double bessel = (double)count / (count - 1);
            for (int c = 0; c < channels; c++)
            {
                runningMean[c] = (float)((1 - momentum) * runningMean[c] + momentum * mean[c]);
                runningVar[c] = (float)((1 - momentum) * runningVar[c] + momentum * variance[c] * bessel);
            }
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
        NormalizationReference.CheckView(input.Length, outer, channels, inner, nameof(input));
        NormalizationReference.CheckView(output.Length, outer, channels, inner, nameof(output));
        NormalizationReference.CheckLength(runningMean.Length, channels, nameof(runningMean));
        NormalizationReference.CheckLength(runningVar.Length, channels, nameof(runningVar));
        NormalizationReference.CheckLength(mean.Length, channels, nameof(mean));
        NormalizationReference.CheckLength(invStd.Length, channels, nameof(invStd));
        NormalizationReference.CheckOptional(weight.Length, channels, nameof(weight));
        NormalizationReference.CheckOptional(bias.Length, channels, nameof(bias));
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
            var plan = new Plan(x, y, outer, channels, inner, w, b, relu, Simd.Resolve(width)) { Streaming = streaming ?? false };
            mean.CopyTo(plan.Mean);
            invStd.CopyTo(plan.InvStd);
            plan.Run(Stage.EvalForward);
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
        NormalizationReference.CheckView(input.Length, outer, channels, inner, nameof(input));
        NormalizationReference.CheckView(gradOutput.Length, outer, channels, inner, nameof(gradOutput));
        NormalizationReference.CheckLength(mean.Length, channels, nameof(mean));
        NormalizationReference.CheckLength(invStd.Length, channels, nameof(invStd));
        NormalizationReference.CheckOptional(weight.Length, channels, nameof(weight));
        NormalizationReference.CheckOptional(bias.Length, channels, nameof(bias));
        if (!gradInput.IsEmpty)
        {
            NormalizationReference.CheckView(gradInput.Length, outer, channels, inner, nameof(gradInput));
        }
        NormalizationReference.CheckOptional(gradWeight.Length, channels, nameof(gradWeight));
        NormalizationReference.CheckOptional(gradBias.Length, channels, nameof(gradBias));
        fixed (float* x = input, dy = gradOutput, dx = gradInput, w = weight, b = bias)
        {
            var plan = new Plan(x, null, outer, channels, inner, w, b, relu, Simd.Resolve(width))
            {
                GradOutput = dy,
                GradInput = gradInput.IsEmpty ? null : dx,
                Training = training,
                Streaming = streaming ?? ChoosesStreaming(outer, channels, inner),
            };
            mean.CopyTo(plan.Mean);
            invStd.CopyTo(plan.InvStd);
            plan.Run(training || !gradWeight.IsEmpty || !gradBias.IsEmpty ? Stage.BackwardWithSums : Stage.BackwardNoSums);
            for (int c = 0; c < channels; c++)
            {
                if (!gradWeight.IsEmpty)
                {
                    // Σ dy · x̂ = invStd · Σ dy (x − mean), from the centred sum around the float mean.
                    gradWeight[c] = (float)(plan.InvStd[c] * (plan.SumGradCentered[c] + ((double)plan.Center[c] - plan.Mean[c]) * plan.SumGrad[c]));
                }
                if (!gradBias.IsEmpty)
                {
                    gradBias[c] = (float)plan.SumGrad[c];
                }
            }
        }
    }

    /// <summary>Whether training outputs of the [outer, channels, inner] view are written with non-temporal stores by default.</summary>
    internal static bool ChoosesStreaming(int outer, int channels, int inner) =>
        (inner >= StreamingRun || inner == 1) && (long)outer * channels * inner >= StreamingFloats;

    internal enum Stage
    {
        TrainForward,
        EvalForward,
        BackwardWithSums,
        BackwardNoSums,
    }

    /// <summary>One kernel call: pointers, the view, per-channel statistics and coefficients, and the threading plan.</summary>
    internal sealed class Plan
    {
        public readonly float* Input, Output, Weight, Bias;
        public float* GradOutput, GradInput;
        public readonly int Outer, Channels, Inner;
        public readonly long Count;
        public readonly bool Relu;
        public readonly SimdWidth Width;
        public readonly int Workers;
        public double Eps;
        public bool Training;

        /// <summary>Whether outputs are written with non-temporal stores (see <see cref="StreamingFloats"/>).</summary>
        public bool Streaming;

        // Per channel: statistics in double, the folded float coefficients, and the backward's sums.
        public readonly double[] Mean, InvStd, Variance, SumGrad, SumGradCentered;
        public readonly float* Center, Scale, Shift, GradScale, GradBeta, GradGamma;

        // The coefficients, each 64-byte aligned: channels-last loops load a vector of each per vector of data, and a
        // load that straddles two cache lines costs two (measured: 25088 rows of 256 channels, eval 0.84 -> 0.48 ms).
        // Pinned, so the pointers stay valid while the plan lives.
        private readonly float[] coefficients;

        public Plan(float* input, float* output, int outer, int channels, int inner, float* weight, float* bias, bool relu, SimdWidth width)
        {
            Input = input;
            Output = output;
            Outer = outer;
            Channels = channels;
            Inner = inner;
            Count = (long)outer * inner;
            Weight = weight;
            Bias = bias;
            Relu = relu;
            Width = width;
            Workers = Count * channels >= ParallelThreshold ? Environment.ProcessorCount : 1;
            Mean = new double[channels];
            InvStd = new double[channels];
            Variance = new double[channels];
            SumGrad = new double[channels];
            SumGradCentered = new double[channels];
            int stride = (channels + 15) & ~15;
            coefficients = GC.AllocateArray<float>(6 * stride + 15, pinned: true);
            float* start = (float*)Marshal.UnsafeAddrOfPinnedArrayElement(coefficients, StoragePool.AlignedOffset(coefficients));
            Center = start;
            Scale = start + stride;
            Shift = start + 2 * stride;
            GradScale = start + 3 * stride;
            GradBeta = start + 4 * stride;
            GradGamma = start + 5 * stride;
        }

        public void Run(Stage stage)
        {
            switch (Width)
            {
                case SimdWidth.Vector512:
                    BatchNormKernels<Vector512<float>, Vector512Ops>.Run(this, stage);
                    break;
                case SimdWidth.Vector256:
                    BatchNormKernels<Vector256<float>, Vector256Ops>.Run(this, stage);
                    break;
                default:
                    BatchNormKernels<float, ScalarOps>.Run(this, stage);
                    break;
            }
            GC.KeepAlive(coefficients);   // the kernels use it through pointers only
        }

        /// <summary>Statistics of channel c from its merged moments (count, mean, M2): mean, variance, invStd.</summary>
        public void SetStatistics(int c, in Moments moments)
        {
            Mean[c] = moments.Count > 0 ? moments.Mean : 0;
            Variance[c] = moments.Count > 0 ? Math.Max(0, moments.M2 / moments.Count) : 0;
            InvStd[c] = 1 / Math.Sqrt(Variance[c] + Eps);
        }

        /// <summary>The forward fold of channel c: y = (x − Center) · Scale + Shift.</summary>
        public void SetForwardCoefficients(int c)
        {
            double scale = InvStd[c] * (Weight is null ? 1 : Weight[c]);
            float center = (float)Mean[c];
            Center[c] = center;
            Scale[c] = (float)scale;
            Shift[c] = (float)((Bias is null ? 0 : Bias[c]) + (center - Mean[c]) * scale);
        }

        /// <summary>The backward fold of channel c: dx = GradScale · g + GradBeta · (x − Center) + GradGamma.</summary>
        public void SetBackwardCoefficients(int c)
        {
            double k = InvStd[c] * (Weight is null ? 1 : Weight[c]);
            GradScale[c] = (float)k;
            if (!Training || Count == 0)
            {
                GradBeta[c] = 0;
                GradGamma[c] = 0;
                return;
            }
            // Σ g (x − mean) from the sum centred on the float mean; see the type's remarks for the fold.
            double centeredSum = SumGradCentered[c] + ((double)Center[c] - Mean[c]) * SumGrad[c];
            double beta = -k * InvStd[c] * InvStd[c] * centeredSum / Count;
            GradBeta[c] = (float)beta;
            GradGamma[c] = (float)(-k * SumGrad[c] / Count + beta * ((double)Center[c] - Mean[c]));
        }
    }

    /// <summary>(count, mean, M2 = Σ (x − mean)²) of a set of elements, merged with Chan's formula.</summary>
    internal struct Moments
    {
        public double Count, Mean, M2;

        public void Merge(double count, double mean, double m2)
        {
            if (count == 0)
            {
                return;
            }
            double total = Count + count;
            double delta = mean - Mean;
            Mean += delta * count / total;
            M2 += m2 + delta * delta * Count * count / total;
            Count = total;
        }
    }
}
