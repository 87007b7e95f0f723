using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Ghost batch normalization (Hoffer, Hubara and Soudry, 2017, "Train longer, generalize better"): in training, the
/// batch is cut into consecutive chunks of <see cref="VirtualBatchSize"/> samples and each chunk is normalized by its
/// own statistics, so that a large batch keeps the regularizing noise of small ones.
/// </summary>
/// <remarks>
/// <para><b>Training</b>: samples [0, v), [v, 2v), ... (v = <see cref="VirtualBatchSize"/>) form the chunks, as
/// PyTorch's <c>torch.split(x, v)</c>: when N is not a multiple of v the last chunk holds the remaining N mod v samples
/// (it must still have more than one value per channel, else <see cref="ArgumentException"/>). Each chunk is exactly
/// <c>F.BatchNorm</c> in training on that chunk: biased chunk variance to normalize, and the running statistics move
/// once per chunk, in order (momentum on the new value, unbiased chunk variance); <see cref="NormBase.NumBatchesTracked"/>
/// counts chunks, so that <c>momentum: null</c> averages every chunk with equal weight. v ≥ N is batch norm.</para>
/// <para><b>Evaluation</b>: the running statistics, as batch norm.</para>
/// <para><b>tf-keras' <c>BatchNormalization(virtual_batch_size=v)</c></b> differs: it reshapes the batch to
/// (v, N / v, ...) and reduces over the first axis, so that its groups are the samples g, g + N/v, g + 2N/v, ... (strided,
/// not consecutive), requires N divisible by v, and updates the moving statistics once per step with the average of the
/// groups' statistics.</para>
/// <para>The layer always tracks running statistics. Recalibration, <see cref="BatchNormBase.FreezeStatistics"/> and
/// folding treat it as a batch norm.</para>
/// </remarks>
public abstract class GhostBatchNormBase : BatchNormBase
{
    /// <summary>Creates the layer; arguments as <see cref="BatchNormBase"/>'s, plus the chunk size.</summary>
    /// <exception cref="ArgumentOutOfRangeException">virtualBatchSize ≤ 0, or an invalid batch-norm argument.</exception>
    private protected GhostBatchNormBase(int numFeatures, int virtualBatchSize, double eps, double? momentum, bool affine, int channelAxis)
        : base(numFeatures, eps, momentum, affine, trackRunningStats: true, channelAxis)
    {
        if (virtualBatchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(virtualBatchSize), virtualBatchSize, "GhostBatchNorm needs virtualBatchSize >= 1 (samples per chunk).");
        }
        VirtualBatchSize = virtualBatchSize;
    }

    /// <summary>Samples per chunk in training (the last chunk may be smaller).</summary>
    public int VirtualBatchSize { get; }

    private protected override Tensor ForwardBatchStatistics(Tensor input, int axis, bool relu)
    {
        var (outer, channels, inner) = F.ChannelView(input, axis);
        int samples = input.Size(0);
        int rowsPerSample = samples == 0 ? 0 : outer / samples;
        int chunkCount = Math.Max(1, (samples + VirtualBatchSize - 1) / VirtualBatchSize);
        var chunkSamples = new int[chunkCount];
        for (int k = 0; k < chunkCount; k++)
        {
            chunkSamples[k] = Math.Min(VirtualBatchSize, samples - k * VirtualBatchSize);
            if ((long)chunkSamples[k] * rowsPerSample * inner == 1)
            {
                throw new ArgumentException(
                    $"{GetType().Name} with virtualBatchSize {VirtualBatchSize} cuts {samples} samples into chunks whose last has 1 value per channel (input shape {ShapeUtil.Format(input.ShapeSpan)}); use a batch size that leaves no single-sample chunk.",
                    nameof(input));
            }
        }
        var factors = new double[chunkCount];
        for (int k = 0; k < chunkCount && Training; k++)
        {
            factors[k] = NextUpdateFactor();
        }
        return new GhostBatchNormFunction(relu).Forward(
            input, Weight, Bias, RunningMean, RunningVar, chunkSamples, factors, Eps, rowsPerSample, channels, inner);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        base.ToString().Replace(", eps:", $", virtualBatchSize: {VirtualBatchSize}, eps:", StringComparison.Ordinal);
}

/// <summary>Ghost batch normalization over (N, C) or (N, C, L) input (channels last: (N, L, C)); see <see cref="GhostBatchNormBase"/>.</summary>
/// <param name="numFeatures">C.</param>
/// <param name="virtualBatchSize">Samples per chunk, at least 1; default 32.</param>
/// <param name="eps">Added to the variance inside the square root; default 1e-5.</param>
/// <param name="momentum">Weight of each chunk's statistic in the running average (PyTorch's convention, default 0.1); null = cumulative average over chunks.</param>
/// <param name="affine">Learn γ (ones) and β (zeros).</param>
/// <param name="channelAxis">1 (channels first) or -1 (channels last).</param>
public sealed class GhostBatchNorm1d(int numFeatures, int virtualBatchSize = 32, double eps = 1e-5, double? momentum = 0.1, bool affine = true, int channelAxis = 1)
    : GhostBatchNormBase(numFeatures, virtualBatchSize, eps, momentum, affine, channelAxis)
{
    private protected override void CheckInputRank(Tensor input) => BatchNormRank.Check(input, this, 2, 3, "2-D input (N, C) or 3-D input " + Layout("(N, C, L)", "(N, L, C)"));
}

/// <summary>Ghost batch normalization over (N, C, H, W) input (channels last: (N, H, W, C)); see <see cref="GhostBatchNormBase"/>.</summary>
/// <param name="numFeatures">C.</param>
/// <param name="virtualBatchSize">Samples per chunk, at least 1; default 32.</param>
/// <param name="eps">Added to the variance inside the square root; default 1e-5.</param>
/// <param name="momentum">Weight of each chunk's statistic in the running average (PyTorch's convention, default 0.1); null = cumulative average over chunks.</param>
/// <param name="affine">Learn γ (ones) and β (zeros).</param>
/// <param name="channelAxis">1 (channels first) or -1 (channels last).</param>
public sealed class GhostBatchNorm2d(int numFeatures, int virtualBatchSize = 32, double eps = 1e-5, double? momentum = 0.1, bool affine = true, int channelAxis = 1)
    : GhostBatchNormBase(numFeatures, virtualBatchSize, eps, momentum, affine, channelAxis)
{
    private protected override void CheckInputRank(Tensor input) => BatchNormRank.Check(input, this, 4, 4, "4-D input " + Layout("(N, C, H, W)", "(N, H, W, C)"));
}
