using NormSharp.Data;
using NormSharp.Distributed;
using NormSharp.Nn;

namespace NormSharp.Cli.Experiments;

/// <summary>
/// What <see cref="Trainer"/> does differently on a rank of a data-parallel run (<c>--replicas N</c>, <c>--distributed</c>):
/// batch norm becomes <see cref="SyncBatchNorm"/>, the model is wrapped in <see cref="DistributedDataParallel"/>, and
/// each rank trains on its 1/N of every batch of the single-process run.
/// </summary>
/// <remarks>
/// Each epoch's <see cref="DistributedSampler"/> uses the permutation the single-process loader draws for that epoch
/// (same generator seed), and each rank takes batches of B / N of its strided share, so the ranks' step-k batches
/// together are exactly the single-process step-k batch. With synchronized statistics and averaged gradients the run
/// then follows the single-process one up to float rounding, except dropout, whose masks each rank draws for its own
/// samples.
/// </remarks>
internal sealed class DataParallelRun
{
    private readonly ProcessGroup group;
    private DistributedDataParallel? parallel;

    /// <exception cref="ArgumentException">The batch size does not divide by the number of ranks.</exception>
    public DataParallelRun(ProcessGroup group, int batchSize)
    {
        this.group = group;
        if (batchSize % group.WorldSize != 0 || batchSize / group.WorldSize < 1)
        {
            throw new ArgumentException(
                $"--batch-size {batchSize} must be a multiple of the number of replicas ({group.WorldSize}): each replica trains on batch-size / replicas samples of every batch.");
        }
        ShardSize = batchSize / group.WorldSize;
    }

    /// <summary>Samples per rank and step.</summary>
    public int ShardSize { get; }

    /// <summary>Converts batch norm to <see cref="SyncBatchNorm"/> and wraps the model (a collective: rank 0's parameters win).</summary>
    public Module Wrap(Sequential model)
    {
        SyncBatchNorm.Convert(model, group);
        parallel = new DistributedDataParallel(model, group);
        return parallel;
    }

    /// <summary>This rank's batches of epoch <paramref name="epoch"/>; <paramref name="loaderSeed"/> is the single-process loader's generator seed.</summary>
    public DataLoader Loader(Dataset train, int loaderSeed, int epoch)
    {
        // Generator(loaderSeed) with loaderSeed = seed · 1,000,003 + epoch + 1 in Trainer: the sampler draws Generator(seed' + epoch).
        var sampler = new DistributedSampler(train.Count, group.WorldSize, group.Rank, shuffle: true, seed: unchecked(loaderSeed - epoch), dropLast: true);
        sampler.SetEpoch(epoch);
        return new DataLoader(train.Subset(sampler.Indices()), ShardSize, dropLast: true);
    }

    /// <summary>Averages the gradients over the ranks (after the backward).</summary>
    public void SynchronizeGradients() => parallel!.SynchronizeGradients();

    /// <summary>The training loss, correct and seen counts over all ranks since the last evaluation (each rank's loss is its shard's mean).</summary>
    public (double LossSum, int Correct, int Seen) Totals(double lossSum, int correct, int seen)
    {
        var totals = new[] { lossSum, correct, seen };
        group.AllReduce(totals, ReduceOp.Sum);
        return (totals[0] / group.WorldSize, (int)totals[1], (int)totals[2]);
    }

    /// <summary>Rank 0's decision to stop (time budget, cancellation), so that every rank stops at the same step.</summary>
    public bool AgreeToStop(bool stop)
    {
        var decision = new[] { stop ? 1f : 0f };
        group.Broadcast(decision, 0);
        return decision[0] != 0;
    }
}
