using NormSharp.Autograd;
using NormSharp.Nn;

namespace NormSharp.Tests;

/// <summary>
/// BatchNormStatistics.Update (swa_utils.update_bn) and UpdatePrecise (fvcore PreciseBN) against the per-batch
/// statistics computed here in double from the layers' inputs; what they restore and what they leave alone.
/// </summary>
public class BatchNormStatisticsTests
{
    private sealed record Model(Sequential Net, Linear First, BatchNorm1d FirstNorm, Linear Second, BatchNorm1d SecondNorm);

    private static Model MakeModel(int seed)
    {
        var generator = new Generator(seed);
        var first = new Linear(4, 3, generator: generator);
        var firstNorm = new BatchNorm1d(3, momentum: 0.3);
        var second = new Linear(3, 2, generator: generator);
        var secondNorm = new BatchNorm1d(2);
        return new Model(new Sequential(first, firstNorm, new ReLU(), second, secondNorm), first, firstNorm, second, secondNorm);
    }

    private static List<Tensor> Batches(int seed, params int[] sizes) =>
        sizes.Select((size, i) => Tensor.Randn(new Generator(seed + i), size, 4) * 2f + 1f).ToList();

    /// <summary>Per-batch (mean, unbiased variance) of each column of [N, C] activations, in double.</summary>
    private static (double[] Mean, double[] Variance) ColumnStatistics(Tensor activations)
    {
        int rows = activations.Size(0), columns = activations.Size(1);
        var values = activations.ToArray();
        var mean = new double[columns];
        var variance = new double[columns];
        for (int c = 0; c < columns; c++)
        {
            var column = Enumerable.Range(0, rows).Select(n => (double)values[n * columns + c]).ToArray();
            mean[c] = column.Average();
            variance[c] = column.Sum(v => (v - mean[c]) * (v - mean[c])) / (rows - 1);
        }
        return (mean, variance);
    }

    /// <summary>The inputs of both batch norms for each batch, in training mode (batch statistics), without touching the model.</summary>
    private static List<(Tensor FirstInput, Tensor SecondInput)> LayerInputs(Model model, List<Tensor> batches)
    {
        using var noGrad = new NoGrad();
        var batchStatisticsNorm = new BatchNorm1d(3);
        model.FirstNorm.Weight!.AsSpan().CopyTo(batchStatisticsNorm.Weight!.AsSpan());
        model.FirstNorm.Bias!.AsSpan().CopyTo(batchStatisticsNorm.Bias!.AsSpan());
        return batches.Select(batch =>
        {
            var firstInput = model.First.Forward(batch);
            return (firstInput, model.Second.Forward(batchStatisticsNorm.Forward(firstInput).Relu()));
        }).ToList();
    }

    private static void AssertAverages(BatchNorm1d layer, IEnumerable<Tensor> inputs, string what)
    {
        var statistics = inputs.Select(ColumnStatistics).ToList();
        for (int c = 0; c < layer.NumFeatures; c++)
        {
            double mean = statistics.Average(s => s.Mean[c]);
            double variance = statistics.Average(s => s.Variance[c]);
            Assert.True(Math.Abs(layer.RunningMean!.ToArray()[c] - mean) <= 1e-5 * Math.Max(1, Math.Abs(mean)), $"{what} running mean {c}: {layer.RunningMean.ToArray()[c]} vs {mean}");
            Assert.True(Math.Abs(layer.RunningVar!.ToArray()[c] - variance) <= 1e-5 * Math.Max(1, variance), $"{what} running var {c}: {layer.RunningVar.ToArray()[c]} vs {variance}");
        }
    }

    [Fact]
    public void Update_sets_the_equal_weight_average_of_the_batch_statistics_and_restores_momentum_and_modes()
    {
        var model = MakeModel(1);
        var batches = Batches(10, 8, 5, 6);
        // Statistics from earlier training that Update must discard.
        model.Net.Forward(Batches(50, 7)[0]);
        model.Net.Eval();
        model.SecondNorm.Train();

        BatchNormStatistics.Update(model.Net, batches);

        var inputs = LayerInputs(model, batches);
        AssertAverages(model.FirstNorm, inputs.Select(i => i.FirstInput), "first");
        AssertAverages(model.SecondNorm, inputs.Select(i => i.SecondInput), "second");
        Assert.Equal(3, model.FirstNorm.NumBatchesTracked);
        Assert.Equal(0.3, model.FirstNorm.Momentum);
        Assert.Equal(0.1, model.SecondNorm.Momentum);
        Assert.False(model.Net.Training);
        Assert.False(model.FirstNorm.Training);
        Assert.True(model.SecondNorm.Training);
    }

    [Fact]
    public void UpdatePrecise_averages_the_first_numBatches_batches()
    {
        var model = MakeModel(2);
        var batches = Batches(20, 8, 4, 6, 9);
        model.Net.Train();

        BatchNormStatistics.UpdatePrecise(model.Net, batches, numBatches: 3);

        var inputs = LayerInputs(model, batches.Take(3).ToList());
        AssertAverages(model.FirstNorm, inputs.Select(i => i.FirstInput), "first");
        AssertAverages(model.SecondNorm, inputs.Select(i => i.SecondInput), "second");
        Assert.Equal(3, model.SecondNorm.NumBatchesTracked);
        Assert.Equal(0.3, model.FirstNorm.Momentum);
        Assert.True(model.Net.Training);
    }

    [Fact]
    public void UpdatePrecise_refuses_too_few_batches_and_leaves_the_statistics_as_they_were()
    {
        var model = MakeModel(3);
        model.Net.Forward(Batches(30, 6)[0]);
        var mean = model.FirstNorm.RunningMean!.ToArray();
        var error = Assert.Throws<ArgumentException>(() => BatchNormStatistics.UpdatePrecise(model.Net, Batches(31, 5, 5), numBatches: 4));
        Assert.Contains("asked to average 4 batches, but the batches ended after 2", error.Message, StringComparison.Ordinal);
        Assert.Equal(mean, model.FirstNorm.RunningMean.ToArray());
        Assert.Equal(1, model.FirstNorm.NumBatchesTracked);
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchNormStatistics.UpdatePrecise(model.Net, Batches(32, 5), numBatches: 0));
    }

    [Fact]
    public void Frozen_layers_keep_their_statistics_and_renorm_runs_as_batch_norm_during_the_pass()
    {
        var frozen = new BatchNorm1d(4);
        new Generator(40).FillNormal(frozen.RunningMean!.AsSpan());
        frozen.FreezeStatistics = true;
        var renorm = new BatchRenorm1d(4, rMax: 2, dMax: 1);
        var plain = new BatchNorm1d(4);
        var batches = Batches(41, 6, 6);
        var frozenMean = frozen.RunningMean.ToArray();

        BatchNormStatistics.Update(new Sequential(frozen, renorm), batches);
        BatchNormStatistics.Update(new Sequential(frozen, plain), batches);

        Assert.Equal(frozenMean, frozen.RunningMean.ToArray());
        Assert.True(frozen.FreezeStatistics);
        Assert.Equal(plain.RunningMean!.ToArray(), renorm.RunningMean!.ToArray());
        Assert.Equal(plain.RunningVar!.ToArray(), renorm.RunningVar!.ToArray());
        Assert.Equal((2.0, 1.0), (renorm.RMax, renorm.DMax));
    }

    [Fact]
    public void Ghost_layers_average_their_chunks()
    {
        var ghost = new GhostBatchNorm1d(4, virtualBatchSize: 3);
        var batches = Batches(50, 6, 9);
        BatchNormStatistics.Update(ghost, batches);
        var chunks = batches.SelectMany(b => new[] { b.Slice(0, 3), b.Slice(3, 3) }.Concat(b.Size(0) > 6 ? [b.Slice(6, 3)] : [])).ToList();
        Assert.Equal(5, ghost.NumBatchesTracked);
        var statistics = chunks.Select(ColumnStatistics).ToList();
        for (int c = 0; c < 4; c++)
        {
            Assert.Equal(statistics.Average(s => s.Mean[c]), ghost.RunningMean!.ToArray()[c], 1e-5);
        }
    }

    [Fact]
    public void A_model_without_batch_norm_is_left_alone()
    {
        var model = new Sequential(new Linear(4, 2));
        model.Eval();
        BatchNormStatistics.Update(model, Batches(60, 3));
        BatchNormStatistics.UpdatePrecise(model, Batches(60, 3), 1);
        Assert.False(model.Training);
    }
}
