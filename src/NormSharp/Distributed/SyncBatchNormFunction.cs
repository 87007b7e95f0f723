// Synchronized batch normalization as one autograd op. Derivation: docs/derivations/syncbatchnorm.md.

using NormSharp.Autograd;
using NormSharp.Functional;
using NormSharp.Kernels;

namespace NormSharp.Distributed;

/// <summary>
/// Batch normalization with statistics over the union of every rank's batch (PyTorch's
/// <c>torch.nn.modules._functions.SyncBatchNorm</c>): inputs (input, weight?, bias?), output y.
/// </summary>
/// <remarks>
/// <para>Forward: each rank's moments (mean, biased variance, count) from the batch-norm kernel, one all-gather of
/// (mean, variance, count) in double, merged per channel (Chan et al.: the global mean, then Σ n_r (var_r + (mean_r −
/// mean)²) / n); ranks with no samples carry count 0 and drop out of the merge. The output is then
/// y = w · invStd · (x − mean) + b with the global statistics, computed from the kernel's locally normalized output.</para>
/// <para>Backward: the local Σ dy and Σ dy · x̂ (x̂ with the global statistics) from the kernel, one all-reduce of both,
/// then dx = w · invStd · (dy − Σ dy / n − x̂ · Σ dy · x̂ / n) with the global sums and count n. The weight and bias
/// gradients stay local (Σ over this rank's samples), as in PyTorch: data parallelism sums or averages them.</para>
/// </remarks>
internal sealed class SyncBatchNormFunction(ProcessGroup group) : AffineNormFunction
{
    private Tensor input = null!;
    private Tensor? weight;
    private double[] mean = [];
    private double[] invStd = [];
    private long totalCount;
    private int outer, channels, inner;

    public override string Name => "SyncBatchNorm";

    /// <summary>Per-channel global mean and biased variance after <see cref="Forward"/> (for the running statistics).</summary>
    public double[] Mean => mean;

    /// <summary>Per-channel global biased variance after <see cref="Forward"/>.</summary>
    public double[] Variance { get; private set; } = [];

    /// <summary>The number of values per channel over all ranks, after <see cref="Forward"/>.</summary>
    public long TotalCount => totalCount;

    /// <summary>
    /// Normalizes the [outer, channels, inner] view of <paramref name="input"/> with the statistics of all ranks; a
    /// collective: every rank of the group must call it. Arguments are validated by the caller.
    /// </summary>
    /// <exception cref="ArgumentException">One value per channel over all ranks (on every rank).</exception>
    public Tensor Forward(Tensor input, Tensor? weight, Tensor? bias, double eps, int outer, int channels, int inner, string shape)
    {
        this.input = input;
        this.weight = weight;
        (this.outer, this.channels, this.inner) = (outer, channels, inner);
        long count = (long)outer * inner;
        var output = Tensor.Uninitialized(input.Shape);   // the kernel or the empty case writes every element

        // This rank's moments: the kernel's training forward also writes x normalized with them, which the affine
        // pass below turns into the globally normalized output.
        var localMean = new double[channels];
        var localInvStd = new double[channels];
        if (count > 0)
        {
            BatchNormFast.ForwardTraining(input.Data, outer, channels, inner, default, default, eps, 0, default, default,
                localMean, localInvStd, output.AsSpan());
        }
        var mine = new double[2 * channels + 1];   // [mean (C), biased variance (C), count]
        for (int c = 0; c < channels; c++)
        {
            mine[c] = localMean[c];
            mine[channels + c] = count > 0 ? Math.Max(0, 1 / (localInvStd[c] * localInvStd[c]) - eps) : 0;
        }
        mine[2 * channels] = count;
        var all = new double[mine.Length * group.WorldSize];
        group.AllGather(mine, all);
        MergeMoments(all, channels, group.WorldSize, out mean, out var variance, out totalCount);
        Variance = variance;
        if (totalCount == 1)
        {
            var counts = string.Join(", ", Enumerable.Range(0, group.WorldSize).Select(r => all[r * mine.Length + 2 * channels]));
            throw new ArgumentException(
                $"Expected more than 1 value per channel over all ranks when training, got 1 (input size {shape} on rank {group.Rank}; values per channel by rank: {counts}).");
        }
        invStd = new double[channels];
        NormalizationReference.InvStd(variance, eps, invStd);

        if (count > 0)
        {
            // y = w · invStd · (x − mean) + b = x̂_local · (w · invStd / invStd_local) + (b + w · invStd · (mean_local − mean))
            var scale = new float[channels];
            var shift = new float[channels];
            for (int c = 0; c < channels; c++)
            {
                double w = weight is null ? 1 : weight.Data[c];
                double b = bias is null ? 0 : bias.Data[c];
                scale[c] = (float)(w * invStd[c] / localInvStd[c]);
                shift[c] = (float)(b + w * invStd[c] * (localMean[c] - mean[c]));
            }
            ChannelAffine.Apply(output.Storage, output.Offset, output.Storage, output.Offset, outer, channels, inner,
                new float[channels], scale, shift, accumulate: false);
        }

        return RecordAffine(output, input, weight, bias);
    }

    /// <summary>
    /// Merges the gathered [mean (C), variance (C), count] blocks of <paramref name="ranks"/> ranks: the global mean, then
    /// M2 = Σ n_r · (var_r + (mean_r − mean)²), variance = M2 / n (Chan et al.'s parallel form, in double).
    /// </summary>
    internal static void MergeMoments(ReadOnlySpan<double> all, int channels, int ranks, out double[] mean, out double[] variance, out long count)
    {
        int block = 2 * channels + 1;
        mean = new double[channels];
        variance = new double[channels];
        count = 0;
        for (int r = 0; r < ranks; r++)
        {
            count += (long)all[r * block + 2 * channels];
        }
        if (count == 0)
        {
            return;
        }
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int r = 0; r < ranks; r++)
            {
                sum += all[r * block + 2 * channels] * all[r * block + c];
            }
            double m = sum / count, m2 = 0;
            for (int r = 0; r < ranks; r++)
            {
                double n = all[r * block + 2 * channels], deviation = all[r * block + c] - m;
                m2 += n * (all[r * block + channels + c] + deviation * deviation);
            }
            mean[c] = m;
            variance[c] = m2 / count;
        }
    }

    public override Tensor?[] Backward(Tensor gradOutput)
    {
        bool needInput = NeedsInputGrad[0];
        var gradWeight = NeedsWeightGrad ? Tensor.Zeros(channels) : null;
        var gradBias = NeedsBiasGrad ? Tensor.Zeros(channels) : null;
        long count = (long)outer * inner;
        // local Σ dy · x̂ and Σ dy (x̂ with the global statistics); the input gradient needs them even when nobody wants the parameters'
        var sumGradNormalized = gradWeight?.AsSpan().ToArray() ?? new float[needInput ? channels : 0];
        var sumGrad = gradBias?.AsSpan().ToArray() ?? new float[needInput ? channels : 0];
        var gradInput = needInput ? Tensor.Uninitialized(input.Shape) : null;   // every element is written below
        if (count > 0)
        {
            // Evaluation form with the global statistics: dx = w · invStd · dy, and the local sums.
            BatchNormFast.Backward(
                input.Data, gradOutput.Data, outer, channels, inner,
                weight is null ? default : weight.Data, default, mean, invStd, training: false,
                gradInput is null ? default : gradInput.AsSpan(), sumGradNormalized, sumGrad);
        }
        if (gradWeight is not null)
        {
            sumGradNormalized.CopyTo(gradWeight.AsSpan());
        }
        if (gradBias is not null)
        {
            sumGrad.CopyTo(gradBias.AsSpan());
        }
        if (needInput)
        {
            // Every rank joins the all-reduce, a rank without samples with zeros (as PyTorch), or the others would wait.
            var sums = new double[2 * channels];
            for (int c = 0; c < channels; c++)
            {
                sums[c] = sumGrad[c];
                sums[channels + c] = sumGradNormalized[c];
            }
            group.AllReduce(sums, ReduceOp.Sum);
            if (count > 0)
            {
                AddStatisticsTerms(gradInput!, sums);
            }
        }
        return AffineGradients(gradInput, gradWeight, gradBias);
    }

    /// <summary>dx += −k · Σdy / n − k · invStd · Σ(dy · x̂) / n · (x − mean), k = w · invStd, with the global sums.</summary>
    private void AddStatisticsTerms(Tensor gradInput, double[] sums)
    {
        var center = new float[channels];
        var scale = new float[channels];
        var shift = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double k = (weight is null ? 1 : weight.Data[c]) * invStd[c];
            double slope = -k * invStd[c] * sums[channels + c] / totalCount;
            center[c] = (float)mean[c];
            scale[c] = (float)slope;
            // centred on the float mean: slope · (x − mean) = slope · (x − center) + slope · (center − mean)
            shift[c] = (float)(-k * sums[c] / totalCount + slope * (center[c] - mean[c]));
        }
        ChannelAffine.Apply(input.Storage, input.Offset, gradInput.Storage, gradInput.Offset, outer, channels, inner,
            center, scale, shift, accumulate: true);
    }
}
