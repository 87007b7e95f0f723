using NormSharp.Functional;
using NormSharp.Kernels;
using NormSharp.Nn;

namespace NormSharp.Distributed;

/// <summary>
/// Batch normalization whose training statistics are those of the whole batch across the ranks of a
/// <see cref="ProcessGroup"/> (PyTorch's <c>nn.SyncBatchNorm</c>): per channel, y = (x − E[x]) / √(Var[x] + eps) · γ + β,
/// with E and Var over the samples of every rank together, so that N ranks with shards of a batch compute what one
/// process computes on the whole batch.
/// </summary>
/// <remarks>
/// <para>Input: any rank ≥ 2, (N, C, *) with the channels on <c>channelAxis</c> (1, or −1 for channels-last (N, *, C)).
/// Shards may differ in size between ranks, and a rank may have no samples (N = 0): it takes part in the collectives
/// and returns an empty output, as PyTorch.</para>
/// <para><b>Training</b>: one all-gather of each rank's (mean, variance, count) in the forward, merged with Chan's
/// formula; the running statistics (identical on every rank) move by running = (1 − momentum) · running + momentum ·
/// batch with the unbiased variance over the total count n (× n / (n − 1)); one all-reduce of Σ dy and Σ dy · x̂ in the
/// backward when the input needs a gradient (docs/derivations/syncbatchnorm.md). γ and β get this rank's gradient,
/// as in PyTorch: <see cref="DistributedDataParallel"/> averages them. Every rank must call <see cref="Forward"/> (and
/// the backward) the same number of times: they are collectives.</para>
/// <para><b>Evaluation</b>, or a group of one rank: exactly <see cref="BatchNorm2d"/> (running statistics, no communication).</para>
/// <para>Defaults as PyTorch: eps 1e-5, momentum 0.1 (weight of the new value; Keras' 0.99 is 0.01 here; null = cumulative
/// average), affine, trackRunningStats. State keys as BatchNorm (<c>weight</c>, <c>bias</c>, <c>running_mean</c>,
/// <c>running_var</c>, <c>num_batches_tracked</c>), so checkpoints move between the two.</para>
/// </remarks>
/// <param name="numFeatures">C.</param>
/// <param name="group">The ranks whose batches are normalized together.</param>
/// <param name="eps">Added to the variance inside the square root.</param>
/// <param name="momentum">Weight of the new batch statistic in the running average; null = cumulative average.</param>
/// <param name="affine">Learn γ (ones) and β (zeros).</param>
/// <param name="trackRunningStats">Keep running statistics for evaluation.</param>
/// <param name="channelAxis">1 (channels first) or -1 (channels last).</param>
public sealed class SyncBatchNorm(int numFeatures, ProcessGroup group, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, int channelAxis = 1)
    : NormBase(numFeatures, eps, momentum, affine, trackRunningStats, channelAxis)
{
    /// <summary>The ranks whose statistics are synchronized.</summary>
    public ProcessGroup Group { get; } = group ?? throw new ArgumentNullException(nameof(group));

    /// <summary>Normalizes <paramref name="input"/>; in training a collective over <see cref="Group"/>.</summary>
    /// <exception cref="ArgumentException">Rank below 2, a channel count other than NumFeatures, or one value per channel
    /// over all ranks in training.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2)
        {
            throw new ArgumentException(
                $"SyncBatchNorm expected at least 2-D input (N, C, *), got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        int axis = F.ResolveChannelAxis(input, ChannelAxis, nameof(SyncBatchNorm));
        CheckChannels(input, axis);
        bool useBatchStatistics = Training || RunningMean is null;
        if (!Training || Group.WorldSize == 1)
        {
            // No synchronization: PyTorch falls back to F.batch_norm here.
            double fallbackFactor = 0;
            if (Training && TrackRunningStats)
            {
                F.VerifyValuesPerChannel(input, ValuesPerChannel(input, axis));
                NumBatchesTracked++;
                fallbackFactor = Momentum ?? 1.0 / NumBatchesTracked;
            }
            return F.BatchNorm(input, RunningMean, RunningVar, Weight, Bias, useBatchStatistics, fallbackFactor, Eps, axis);
        }
        var (outer, channels, inner) = F.ChannelView(input, axis);
        var function = new SyncBatchNormFunction(Group);
        var output = function.Forward(input, Weight, Bias, Eps, outer, channels, inner, ShapeUtil.Format(input.ShapeSpan));
        if (TrackRunningStats)
        {
            NumBatchesTracked++;
            double factor = Momentum ?? 1.0 / NumBatchesTracked;
            if (function.TotalCount > 0)
            {
                RunningStatistics.Update(function.Mean, function.Variance, function.TotalCount, factor,
                    RunningMean!.AsSpan(), RunningVar!.AsSpan());
            }
        }
        return output;
    }

    /// <summary>
    /// Replaces every <see cref="BatchNormBase"/> layer (BatchNorm1d/2d/3d) in <paramref name="module"/> by a
    /// <see cref="SyncBatchNorm"/> over <paramref name="group"/> with the same settings, parameters (shared, not copied),
    /// running statistics, count and mode (PyTorch's <c>SyncBatchNorm.convert_sync_batchnorm</c>). Returns the module, or
    /// the new layer when <paramref name="module"/> itself is a batch-norm layer.
    /// </summary>
    /// <remarks>Children are replaced inside <see cref="Sequential"/>s, so the state-dict keys stay the same. A custom
    /// module that calls a batch-norm child through a field of its own cannot have it swapped: build such a model with
    /// <see cref="SyncBatchNorm"/> directly.</remarks>
    /// <exception cref="NotSupportedException">A batch norm to convert sits in a module other than a Sequential.</exception>
    public static Module Convert(Module module, ProcessGroup group)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(group);
        if (module is BatchNormBase batchNorm)
        {
            return From(batchNorm, group);
        }
        foreach (var (name, child) in module.NamedChildren().ToList())
        {
            var converted = Convert(child, group);
            if (!ReferenceEquals(converted, child) && !module.TryReplaceChild(name, converted))
            {
                throw new NotSupportedException(
                    $"SyncBatchNorm.Convert cannot replace \"{name}\" inside {module.GetType().Name}, which calls its layers through fields of its own; " +
                    "build that module with SyncBatchNorm directly.");
            }
        }
        return module;
    }

    private static SyncBatchNorm From(BatchNormBase batchNorm, ProcessGroup group)
    {
        var synced = new SyncBatchNorm(batchNorm.NumFeatures, group, batchNorm.Eps, batchNorm.Momentum, batchNorm.Affine,
            batchNorm.TrackRunningStats, batchNorm.ChannelAxis);
        synced.ShareState(batchNorm);
        synced.Train(batchNorm.Training);
        return synced;
    }

    /// <summary>Takes over <paramref name="source"/>'s parameters and buffers (the same tensors) and its count.</summary>
    private void ShareState(NormBase source)
    {
        if (source.Weight is not null)
        {
            Weight = RegisterParameter("weight", source.Weight);
            Bias = RegisterParameter("bias", source.Bias);
        }
        if (source.RunningMean is not null)
        {
            source.RunningMean.AsSpan().CopyTo(RunningMean!.AsSpan());
            source.RunningVar!.AsSpan().CopyTo(RunningVar!.AsSpan());
        }
        NumBatchesTracked = source.NumBatchesTracked;
    }

    private static long ValuesPerChannel(Tensor input, int axis)
    {
        var (outer, _, inner) = F.ChannelView(input, axis);
        return (long)outer * inner;
    }
}
