using NormSharp.Nn;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

/// <summary>
/// FrozenBatchNorm2d (torchvision's: four buffers, BatchNorm2d's state keys, evaluation in either mode), its converters,
/// and BatchNormBase.FreezeStatistics, which Train() does not undo.
/// </summary>
public class FrozenBatchNormTests
{
    private static BatchNorm2d TrainedBatchNorm(int channels, int seed)
    {
        var bn = new BatchNorm2d(channels);
        new Generator(seed).FillNormal(bn.Weight!.AsSpan(), 1, 0.5);
        new Generator(seed + 1).FillNormal(bn.Bias!.AsSpan());
        for (int step = 0; step < 3; step++)
        {
            bn.Forward(Leaf(seed + 2 + step, 2, 3, 4, channels, 3, 3));
        }
        return bn;
    }

    [Fact]
    public void A_batch_norm_state_dict_loads_strictly_and_the_output_is_the_batch_norms_in_evaluation()
    {
        var bn = TrainedBatchNorm(3, 1);
        var frozen = new FrozenBatchNorm2d(3);
        var result = frozen.LoadStateDict(bn.StateDict(), strict: true);
        Assert.True(result.IsClean, result.ToString());
        Assert.Equal(bn.StateDict().Keys.Order(), frozen.StateDict().Keys.Order());
        Assert.Empty(frozen.Parameters());
        Assert.Equal(3, frozen.NumBatchesTracked);

        var x = Leaf(9, 1, 2, 2, 3, 4, 4);
        bn.Eval();
        var expected = bn.Forward(x).ToArray();
        frozen.Train();   // training mode changes nothing
        var y = frozen.Forward(x);
        Assert.Equal(expected, y.ToArray());
        Assert.Equal(bn.RunningMean!.ToArray(), frozen.RunningMean.ToArray());

        // Only the input gets a gradient: dy/dx = γ / √(running var + eps) per channel.
        var upstream = Tensor.Randn(new Generator(10), x.Shape);
        y.Backward(upstream);
        var gradInput = x.Grad!.ToArray();
        for (int i = 0; i < gradInput.Length; i++)
        {
            int c = ChannelOf(i, x.Shape, 1);
            double scale = bn.Weight!.ToArray()[c] / Math.Sqrt(bn.RunningVar!.ToArray()[c] + bn.Eps);
            Assert.Equal(upstream.ToArray()[i] * scale, gradInput[i], 1e-5);
        }

        // And back: a frozen state dict loads strictly into a BatchNorm2d.
        var again = new BatchNorm2d(3);
        Assert.True(again.LoadStateDict(frozen.StateDict(), strict: true).IsClean);
        Assert.Equal(bn.Weight!.ToArray(), again.Weight!.ToArray());
    }

    [Fact]
    public void From_copies_statistics_affine_and_eps_and_defaults_the_affine_of_a_layer_without_one()
    {
        var bn = TrainedBatchNorm(2, 20);
        var frozen = FrozenBatchNorm2d.From(bn);
        Assert.Equal(bn.Weight!.ToArray(), frozen.Weight.ToArray());
        Assert.Equal(bn.Bias!.ToArray(), frozen.Bias.ToArray());
        Assert.Equal(bn.RunningVar!.ToArray(), frozen.RunningVar.ToArray());
        Assert.False(frozen.Training);

        var plain = new BatchNorm2d(2, eps: 1e-3, affine: false);
        plain.Forward(Leaf(21, 0, 1, 3, 2, 2, 2));
        var frozenPlain = FrozenBatchNorm2d.From(plain);
        Assert.Equal(1e-3, frozenPlain.Eps);
        Assert.Equal([1f, 1f], frozenPlain.Weight.ToArray());
        Assert.Equal([0f, 0f], frozenPlain.Bias.ToArray());

        var error = Assert.Throws<ArgumentException>(() => FrozenBatchNorm2d.From(new BatchNorm2d(2, trackRunningStats: false)));
        Assert.Contains("trackRunningStats: false", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<ArgumentException>(() => FrozenBatchNorm2d.From(new BatchNorm2d(2, channelAxis: -1)));
        Assert.Contains("channelAxis -1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Convert_replaces_every_2d_batch_norm_of_nested_sequentials_in_place()
    {
        var inner = new Sequential(new Conv2d(2, 2, 1), new BatchRenorm2d(2), new ReLU());
        var model = new Sequential(new Conv2d(1, 2, 3, padding: 1), new BatchNorm2d(2), new ReLU(), inner, new GhostBatchNorm2d(2, 2));
        var x = Tensor.Randn(new Generator(30), 4, 1, 5, 5);
        model.Forward(x);
        model.Eval();
        var expected = model.Forward(x).ToArray();

        var converted = FrozenBatchNorm2d.Convert(model);
        Assert.Same(model, converted);
        Assert.IsType<FrozenBatchNorm2d>(model[1]);
        Assert.IsType<FrozenBatchNorm2d>(inner[1]);
        Assert.IsType<FrozenBatchNorm2d>(model[4]);
        Assert.Empty(model.Modules().OfType<BatchNormBase>());
        Assert.Contains("1.running_mean", model.StateDict().Keys);
        model.Train();
        Assert.Equal(expected, model.Forward(x).ToArray());

        Assert.IsType<FrozenBatchNorm2d>(FrozenBatchNorm2d.Convert(new BatchNorm2d(4)));
    }

    private sealed class FieldModel : Module
    {
        private readonly BatchNorm2d norm;

        public FieldModel() => norm = RegisterModule("norm", new BatchNorm2d(2));

        public override Tensor Forward(Tensor input) => norm.Forward(input);
    }

    [Fact]
    public void Convert_refuses_a_layer_it_cannot_swap_and_names_its_path()
    {
        var model = new Sequential(new FieldModel());
        var error = Assert.Throws<NotSupportedException>(() => FrozenBatchNorm2d.Convert(model));
        Assert.Contains("\"0.norm\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("FreezeStatistics", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FreezeStatistics_survives_Train_keeps_the_statistics_and_still_trains_the_affine()
    {
        var bn = TrainedBatchNorm(3, 40);
        var model = new Sequential(new Conv2d(1, 3, 3), bn, new ReLU());
        bn.FreezeStatistics = true;
        var mean = bn.RunningMean!.ToArray();
        var variance = bn.RunningVar!.ToArray();
        long count = bn.NumBatchesTracked;
        model.Train();   // PyTorch's bn.eval() would be undone here (pytorch#66073); the flag is not
        Assert.True(bn.Training);
        var x = Tensor.Randn(new Generator(41), 4, 1, 6, 6);
        var y = model.Forward(x);
        y.Backward(Tensor.Randn(new Generator(42), y.Shape));
        Assert.Equal(mean, bn.RunningMean.ToArray());
        Assert.Equal(variance, bn.RunningVar.ToArray());
        Assert.Equal(count, bn.NumBatchesTracked);
        Assert.NotNull(bn.Weight!.Grad);

        // The output is the evaluation-mode output.
        var reference = TrainedBatchNorm(3, 40);
        reference.Eval();
        var conv = ((Conv2d)model[0]).Forward(x);
        Assert.Equal(reference.Forward(conv).Relu().ToArray(), model.Forward(x).ToArray());

        bn.FreezeStatistics = false;
        model.Forward(x);
        Assert.Equal(count + 1, bn.NumBatchesTracked);
    }

    [Fact]
    public void FreezeStatistics_needs_running_statistics()
    {
        var bn = new BatchNorm1d(3, trackRunningStats: false);
        var error = Assert.Throws<InvalidOperationException>(() => bn.FreezeStatistics = true);
        Assert.Contains("trackRunningStats: false", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_input_throws_naming_the_shape()
    {
        var error = Assert.Throws<ArgumentException>(() => new FrozenBatchNorm2d(3).Forward(Tensor.Zeros(2, 4, 2, 2)));
        Assert.Contains("(N, 3, H, W), got input of shape [2, 4, 2, 2]", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FrozenBatchNorm2d(3, eps: -1));
    }
}
