using NormSharp.Data;

namespace NormSharp.Tests.Data;

/// <summary>A user-defined data set and float regression targets through BatchLoader.</summary>
public class BatchLoaderTests
{
    private sealed class Squares : IDataset
    {
        public int Count => 5;

        public Sample this[int index] => new(Tensor.FromArray([index, 1], 2), Tensor.Scalar(index * index));
    }

    [Fact]
    public void A_custom_data_set_is_batched_with_float_targets()
    {
        var batches = new BatchLoader(new Squares(), batchSize: 2).ToList();
        Assert.Equal(3, batches.Count);
        Assert.Equal(new[] { 2, 2 }, batches[0].Input.Shape);
        Assert.Equal(new float[] { 0, 1 }, batches[0].Target.ToArray());
        Assert.Equal(new float[] { 16 }, batches[2].Target.ToArray());
        Assert.Equal(2, new BatchLoader(new Squares(), batchSize: 2, dropLast: true).Count());
    }

    [Fact]
    public void TensorDataset_shuffles_inputs_and_targets_together()
    {
        var inputs = Tensor.Arange(8).Reshape(8, 1);
        var data = new TensorDataset(inputs, inputs * 0.5f);
        foreach (var batch in new BatchLoader(data, batchSize: 3, shuffle: true, generator: new Generator(4)))
        {
            Assert.Equal(batch.Input.ToArray().Select(v => v * 0.5f), batch.Target.ToArray());
        }
        var error = Assert.Throws<ArgumentException>(() => new TensorDataset(Tensor.Zeros(3, 2), Tensor.Zeros(4)));
        Assert.Contains("[3, 2]", error.Message, StringComparison.Ordinal);
        Assert.Contains("[4]", error.Message, StringComparison.Ordinal);
    }
}
