using NormSharp.Data;

namespace NormSharp.Tests.Data;

public class DataLoaderTests
{
    /// <summary>n samples; sample i has image [i, -i] and label i, so pairing errors are visible.</summary>
    private static Dataset Numbered(int n)
    {
        var data = new float[2 * n];
        for (int i = 0; i < n; i++)
        {
            data[2 * i] = i;
            data[2 * i + 1] = -i;
        }
        return new Dataset(Tensor.FromArray(data, n, 2), Enumerable.Range(0, n).ToArray());
    }

    private static void AssertPaired(Batch batch)
    {
        Assert.Equal(new[] { batch.Count, 2 }, batch.Images.Shape);
        var values = batch.Images.ToArray();
        for (int i = 0; i < batch.Count; i++)
        {
            Assert.Equal(batch.Labels[i], values[2 * i]);
            Assert.Equal(-batch.Labels[i], values[2 * i + 1]);
        }
    }

    [Theory]
    [InlineData(10, 3, false, new[] { 3, 3, 3, 1 })]
    [InlineData(10, 3, true, new[] { 3, 3, 3 })]
    [InlineData(9, 3, true, new[] { 3, 3, 3 })]
    [InlineData(2, 5, false, new[] { 2 })]
    [InlineData(2, 5, true, new int[0])]
    public void Batch_sizes_follow_drop_last(int n, int batchSize, bool dropLast, int[] expected)
    {
        var loader = new DataLoader(Numbered(n), batchSize, dropLast: dropLast);
        Assert.Equal(expected.Length, loader.Count);
        Assert.Equal(expected, loader.Select(b => b.Count).ToArray());
    }

    [Fact]
    public void Unshuffled_batches_are_in_order_and_paired()
    {
        var batches = new DataLoader(Numbered(7), 3).ToList();
        Assert.Equal(Enumerable.Range(0, 7), batches.SelectMany(b => b.Labels));
        batches.ForEach(AssertPaired);
    }

    [Fact]
    public void Shuffled_epoch_visits_every_sample_once_and_keeps_pairs()
    {
        var loader = new DataLoader(Numbered(103), 10, shuffle: true, generator: new Generator(5));
        var labels = new List<int>();
        foreach (var batch in loader)
        {
            AssertPaired(batch);
            labels.AddRange(batch.Labels);
        }
        Assert.NotEqual(Enumerable.Range(0, 103), labels);
        Assert.Equal(Enumerable.Range(0, 103), labels.Order());
    }

    [Fact]
    public void Same_seed_same_epochs_and_each_epoch_reshuffles()
    {
        int[][] Epochs(int seed)
        {
            var loader = new DataLoader(Numbered(50), 50, shuffle: true, generator: new Generator(seed));
            return [loader.Single().Labels, loader.Single().Labels];
        }
        var a = Epochs(1);
        var b = Epochs(1);
        Assert.Equal(a[0], b[0]);
        Assert.Equal(a[1], b[1]);
        Assert.NotEqual(a[0], a[1]);
        Assert.NotEqual(a[0], Epochs(2)[0]);
    }

    [Fact]
    public void Shuffled_drop_last_drops_a_random_remainder()
    {
        var loader = new DataLoader(Numbered(10), 4, shuffle: true, dropLast: true, generator: new Generator(3));
        var labels = loader.SelectMany(b => b.Labels).ToArray();
        Assert.Equal(8, labels.Length);
        Assert.Equal(8, labels.Distinct().Count());
    }

    [Fact]
    public void Batch_size_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(Numbered(3), 0));
    }
}
