using System.Collections;

namespace NormSharp.Data;

/// <summary>One mini-batch: images [B, ...] and their class indices [B].</summary>
/// <param name="Images">A tensor of B samples, outside the autograd graph.</param>
/// <param name="Labels">B class indices.</param>
public readonly record struct Batch(Tensor Images, int[] Labels)
{
    /// <summary>The number of samples B.</summary>
    public int Count => Labels.Length;
}

/// <summary>
/// Iterates over a <see cref="Dataset"/> in mini-batches (PyTorch's <c>DataLoader</c> without workers).
/// </summary>
/// <remarks>
/// Every enumeration is one epoch. With <c>shuffle</c>, each epoch draws a fresh permutation from the
/// generator, so a loader built with <c>new Generator(seed)</c> gives the same sequence of epochs on
/// every run. Without shuffle, batches are in data set order and share the data set's storage
/// (no copy); shuffled batches are copies. The last batch holds the remainder (N mod batchSize
/// samples) unless <c>dropLast</c> is true, as in PyTorch.
/// </remarks>
public sealed class DataLoader : IEnumerable<Batch>
{
    private readonly Generator generator;

    /// <summary>Creates a loader.</summary>
    /// <param name="dataset">The samples.</param>
    /// <param name="batchSize">Samples per batch, > 0.</param>
    /// <param name="shuffle">Reshuffle at the start of every epoch (default false).</param>
    /// <param name="dropLast">Drop the last batch when it is smaller than batchSize (default false).</param>
    /// <param name="generator">The source of permutations; default a generator seeded from <see cref="Generator.Default"/>, so
    /// <c>Init.ManualSeed(seed)</c> before creating the loader fixes the shuffle (and unseeded runs are still reproducible).</param>
    public DataLoader(Dataset dataset, int batchSize, bool shuffle = false, bool dropLast = false, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (batchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batch size must be > 0.");
        }
        Dataset = dataset;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        // As PyTorch's loader seeds its sampler from the default generator: Init.ManualSeed makes the shuffle reproducible.
        this.generator = generator ?? new Generator(Generator.Default.NextInt(int.MaxValue));
    }

    public Dataset Dataset { get; }

    public int BatchSize { get; }

    public bool Shuffle { get; }

    public bool DropLast { get; }

    /// <summary>Batches per epoch: ⌊N / batchSize⌋ with dropLast, ⌈N / batchSize⌉ without.</summary>
    public int Count => DropLast ? Dataset.Count / BatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>Enumerates one epoch.</summary>
    public IEnumerator<Batch> GetEnumerator()
    {
        int n = Dataset.Count;
        int[]? order = Shuffle ? generator.Permutation(n) : null;
        var images = Dataset.Images.Detach().DetachFromDisposeScope();   // made at the first MoveNext: maybe in a scope
        var labels = Dataset.Labels.ToArray();
        int batches = Count;
        for (int b = 0; b < batches; b++)
        {
            int start = b * BatchSize;
            int size = Math.Min(BatchSize, n - start);
            if (order is null)
            {
                yield return new Batch(images.Slice(start, size), labels[start..(start + size)]);
            }
            else
            {
                var indices = order.AsSpan(start, size);
                var batchLabels = new int[size];
                for (int i = 0; i < size; i++)
                {
                    batchLabels[i] = labels[indices[i]];
                }
                yield return new Batch(images.IndexSelect(indices), batchLabels);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
