namespace NormSharp.Distributed;

/// <summary>
/// Which samples of a data set each rank trains on (PyTorch's <c>DistributedSampler</c>): per epoch, one permutation of
/// the data set seeded with seed + epoch (the same on every rank), padded by repeating its start to a multiple of the
/// number of replicas (or truncated, with <c>dropLast</c>), of which rank r takes elements r, r + R, r + 2R, ...
/// Every rank gets the same number of samples, so every rank runs the same number of steps.
/// </summary>
/// <remarks>
/// Call <see cref="SetEpoch"/> at the start of every epoch, or every epoch has the same order (as PyTorch). With batches
/// of B / R consecutive indices per rank, the union of the ranks' step-k batches is samples kB .. (k + 1)B − 1 of the
/// epoch's permutation: the batch one process would take with batch size B.
/// Use: <c>new DataLoader(dataset.Subset(sampler.Indices()), batchSize / replicas)</c>.
/// </remarks>
public sealed class DistributedSampler
{
    /// <summary>Creates the sampler.</summary>
    /// <param name="datasetCount">The number of samples in the data set, ≥ 0.</param>
    /// <param name="numReplicas">The number of ranks R, ≥ 1.</param>
    /// <param name="rank">This rank, in [0, R).</param>
    /// <param name="shuffle">Permute the data set each epoch (default true, as PyTorch); false keeps its order.</param>
    /// <param name="seed">The permutation's seed; the same on every rank.</param>
    /// <param name="dropLast">Drop the tail that does not divide by R instead of padding with repeated samples.</param>
    public DistributedSampler(int datasetCount, int numReplicas, int rank, bool shuffle = true, int seed = 0, bool dropLast = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(datasetCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(numReplicas, 1);
        if (rank < 0 || rank >= numReplicas)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {numReplicas - 1}] for {numReplicas} replicas.");
        }
        DatasetCount = datasetCount;
        NumReplicas = numReplicas;
        Rank = rank;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
        Count = dropLast ? datasetCount / numReplicas : (datasetCount + numReplicas - 1) / numReplicas;
    }

    public int DatasetCount { get; }

    public int NumReplicas { get; }

    public int Rank { get; }

    public bool Shuffle { get; }

    public int Seed { get; }

    public bool DropLast { get; }

    /// <summary>The epoch whose permutation <see cref="Indices"/> returns.</summary>
    public int Epoch { get; private set; }

    /// <summary>Samples per rank and epoch: ⌈N / R⌉, or ⌊N / R⌋ with dropLast.</summary>
    public int Count { get; }

    /// <summary>Selects the epoch's permutation (PyTorch's <c>set_epoch</c>).</summary>
    public void SetEpoch(int epoch) => Epoch = epoch;

    /// <summary>This rank's sample indices for the current epoch, <see cref="Count"/> of them.</summary>
    public int[] Indices()
    {
        int[] order = Shuffle ? new Generator(unchecked(Seed + Epoch)).Permutation(DatasetCount) : [.. Enumerable.Range(0, DatasetCount)];
        var mine = new int[Count];
        for (int i = 0; i < Count; i++)
        {
            // padding repeats the permutation from its start, as PyTorch
            mine[i] = order[(Rank + i * NumReplicas) % order.Length];
        }
        return mine;
    }
}
