namespace NormSharp.Data;

/// <summary>One sample of a data set: an input and its target, each a tensor (a class index, a regression value ...).</summary>
/// <param name="Input">The input, e.g. an image [C, H, W].</param>
/// <param name="Target">The target, e.g. shape [] for a class index or a single regression value, [k] for k values.</param>
public readonly record struct Sample(Tensor Input, Tensor Target);

/// <summary>
/// A data set a user brings (PyTorch's map-style <c>Dataset</c>: <c>__len__</c> and <c>__getitem__</c>): a count and
/// the sample at each index. <see cref="BatchLoader"/> batches any implementation.
/// </summary>
public interface IDataset
{
    /// <summary>The number of samples.</summary>
    int Count { get; }

    /// <summary>The sample at <paramref name="index"/> in [0, Count).</summary>
    Sample this[int index] { get; }
}

/// <summary>
/// Inputs and float targets held in two tensors whose first dimension indexes samples (PyTorch's
/// <c>TensorDataset(inputs, targets)</c>): the data set for regression, where targets are values, not class indices.
/// </summary>
public sealed class TensorDataset : IDataset
{
    /// <summary>Wraps <paramref name="inputs"/> [N, ...] and <paramref name="targets"/> [N, ...] (not copied).</summary>
    /// <exception cref="ArgumentException">A tensor has no sample dimension, or the sample counts differ (the message names both shapes).</exception>
    public TensorDataset(Tensor inputs, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (inputs.Rank == 0 || targets.Rank == 0 || inputs.Size(0) != targets.Size(0))
        {
            throw new ArgumentException(
                $"TensorDataset needs inputs and targets with the same first dimension, got inputs {ShapeUtil.Format(inputs.Shape)} and targets {ShapeUtil.Format(targets.Shape)}.", nameof(targets));
        }
        Inputs = inputs.Detach();
        Targets = targets.Detach();
    }

    public Tensor Inputs { get; }

    public Tensor Targets { get; }

    /// <inheritdoc/>
    public int Count => Inputs.Size(0);

    /// <inheritdoc/>
    public Sample this[int index] => new(Inputs[index], Targets[index]);
}

/// <summary>
/// Batches any <see cref="IDataset"/> (PyTorch's <c>DataLoader</c> with the default collate): each batch stacks
/// <paramref name="batchSize"/> inputs into [B, ...] and their targets into [B, ...]; with <paramref name="shuffle"/>
/// each epoch is a new permutation from the generator (default seeded from <see cref="Generator.Default"/>).
/// </summary>
/// <param name="dataset">The samples; all inputs of one shape and all targets of one shape.</param>
/// <param name="batchSize">Samples per batch, >= 1.</param>
/// <param name="shuffle">Draw a new order each epoch.</param>
/// <param name="dropLast">Drop the last, smaller batch.</param>
/// <param name="generator">Source of the orders.</param>
public sealed class BatchLoader(IDataset dataset, int batchSize, bool shuffle = false, bool dropLast = false, Generator? generator = null)
    : IEnumerable<Sample>
{
    private readonly IDataset dataset = dataset ?? throw new ArgumentNullException(nameof(dataset));
    private readonly int batchSize = batchSize > 0 ? batchSize : throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batch size must be >= 1.");
    private readonly Generator generator = generator ?? new Generator(Generator.Default.NextInt(int.MaxValue));

    /// <summary>Batches per epoch.</summary>
    public int Count => dropLast ? dataset.Count / batchSize : (dataset.Count + batchSize - 1) / batchSize;

    /// <summary>Enumerates one epoch.</summary>
    public IEnumerator<Sample> GetEnumerator()
    {
        int[] order = shuffle ? generator.Permutation(dataset.Count) : [.. Enumerable.Range(0, dataset.Count)];
        for (int b = 0; b < Count; b++)
        {
            var samples = order.Skip(b * batchSize).Take(batchSize).Select(i => dataset[i]).ToList();
            // Detached, so that a data set returning graph tensors does not tie every batch to its graph.
            yield return new Sample(
                Tensor.Stack([.. samples.Select(s => s.Input.Detach())]), Tensor.Stack([.. samples.Select(s => s.Target.Detach())]));
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
