using NormSharp.Functional;
using NormSharp.Nn;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

/// <summary>
/// BatchNormLSTM (Cooijmans et al. 2016) and LayerNormLSTM (Ba et al. 2016): gradient checks through time with a random
/// upstream gradient, per-step statistics and the steps beyond T_max, initialization, keys, and errors.
/// </summary>
public class NormalizedLSTMTests
{
    private static void RandomizeStatistics(Module module, int seed)
    {
        var g = new Generator(seed);
        foreach (var norm in module.Modules().OfType<TimeStepBatchNorm>())
        {
            g.FillNormal(norm.RunningMean.AsSpan(), 0, 0.5);
            g.FillUniform(norm.RunningVar.AsSpan(), 0.5, 2);
            g.FillNormal(norm.Weight.AsSpan(), 0.5, 0.3);
        }
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Gradients_through_time_match_finite_differences(bool batchNorm, bool training)
    {
        const int length = 4, batch = 4, inputSize = 2, hidden = 3;
        NormalizedLSTMBase layer = batchNorm
            ? new BatchNormLSTM(inputSize, hidden, maxLength: 2, batchFirst: true, momentum: 0, generator: new Generator(1))
            : new LayerNormLSTM(inputSize, hidden, batchFirst: true, generator: new Generator(1));
        RandomizeStatistics(layer, 2);
        layer.Train(training);
        var x = GradCheck.RandomLeaf(3, batch, length, inputSize);
        var h0 = GradCheck.RandomLeaf(4, batch, hidden);
        var c0 = GradCheck.RandomLeaf(5, batch, hidden);
        // Step 3e-3: LN of a projection of two inputs is scale-invariant in them and strongly curved where they are small;
        // at the default 1e-2 the truncation error of the differences reached 1.7e-2 (it falls as step², as it should).
        GradCheck.Check(t =>
        {
            var (output, (h, c)) = layer.Forward(t[0], (t[1], t[2]));
            return RecurrentTests.Projected(output, h, c);
        }, [x, h0, c0, .. layer.Parameters()], seed: 6, step: 3e-3);
    }

    [Fact]
    public void Steps_beyond_T_max_use_the_last_step_s_statistics()
    {
        var norm = new TimeStepBatchNorm(3, maxLength: 2);
        RandomizeStatistics(norm, 10);
        var x = Tensor.Randn(new Generator(11), 5, 3);
        norm.Eval();
        var expected = F.BatchNorm(x, norm.RunningMean[1].Clone(), norm.RunningVar[1].Clone(), norm.Weight, norm.Bias);
        Assert.Equal(expected.ToArray(), norm.Forward(x, 7).ToArray());
        Assert.NotEqual(expected.ToArray(), norm.Forward(x, 0).ToArray());
        // Training at step 7 moves the statistics of step 1 and leaves step 0's alone.
        norm.Train();
        var before = norm.RunningMean.ToArray();
        norm.Forward(x, 7);
        var after = norm.RunningMean.ToArray();
        Assert.Equal(before[..3], after[..3]);
        Assert.NotEqual(before[3..], after[3..]);

        // The whole layer: with T_max = 2, an evaluation over 4 steps equals a T_max = 4 layer whose steps 2 and 3 hold step 1's statistics.
        var shortMemory = new BatchNormLSTM(2, 3, maxLength: 2, generator: new Generator(12));
        var longMemory = new BatchNormLSTM(2, 3, maxLength: 4, generator: new Generator(12));
        RandomizeStatistics(shortMemory, 13);
        foreach (var (shortNorm, longNorm) in shortMemory.Modules().OfType<TimeStepBatchNorm>().Zip(longMemory.Modules().OfType<TimeStepBatchNorm>()))
        {
            shortNorm.Weight.AsSpan().CopyTo(longNorm.Weight.AsSpan());
            for (int t = 0; t < 4; t++)
            {
                shortNorm.RunningMean[Math.Min(t, 1)].AsSpan().CopyTo(longNorm.RunningMean[t].AsSpan());
                shortNorm.RunningVar[Math.Min(t, 1)].AsSpan().CopyTo(longNorm.RunningVar[t].AsSpan());
            }
        }
        shortMemory.Eval();
        longMemory.Eval();
        var sequence = Tensor.Randn(new Generator(14), 4, 3, 2);
        AssertClose(longMemory.Forward(sequence).ToArray(), shortMemory.Forward(sequence).ToArray(), 0, "outputs");
    }

    [Fact]
    public void Initialization_and_keys_follow_the_papers()
    {
        var bnLstm = new BatchNormLSTM(5, 4, maxLength: 28);
        Assert.All(bnLstm.Modules().OfType<TimeStepBatchNorm>().SelectMany(n => n.Weight.ToArray()), g => Assert.Equal(0.1f, g));
        Assert.Equal(
            ["weight_ih", "weight_hh", "bias", "bn_ih.weight", "bn_hh.weight", "bn_c.weight", "bn_c.bias"],
            bnLstm.NamedParameters().Select(p => p.Key));
        Assert.Equal([28, 16], bnLstm.StateDict()["bn_ih.running_mean"].Shape);
        var lnLstm = new LayerNormLSTM(5, 4);
        Assert.Equal(
            ["weight_ih", "weight_hh", "bias", "ln_ih.weight", "ln_ih.bias", "ln_hh.weight", "ln_hh.bias", "ln_c.weight", "ln_c.bias"],
            lnLstm.NamedParameters().Select(p => p.Key));
    }

    [Fact]
    public void Bad_input_throws_naming_the_shapes()
    {
        var layer = new BatchNormLSTM(5, 4, maxLength: 3);
        var inputError = Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(3, 2, 6)));
        Assert.Contains("[3, 2, 6]", inputError.Message, StringComparison.Ordinal);
        var stateError = Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(3, 2, 5), (Tensor.Zeros(2, 4), Tensor.Zeros(3, 4))));
        Assert.Contains("[3, 4]", stateError.Message, StringComparison.Ordinal);
        Assert.Contains("[2, 4]", stateError.Message, StringComparison.Ordinal);
        // A batch of one has no batch statistics, as batch norm refuses in training.
        Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(3, 1, 5)));
        Assert.Throws<ArgumentException>(() => new LayerNormLSTM(5, 4, batchFirst: true).Forward(Tensor.Zeros(2, 3)));
    }
}
