using NormSharp.Nn;

namespace NormSharp.Tests;

/// <summary>
/// Conv2d/Linear → batch norm folding: the fused layer equals the pair in evaluation mode (bias or not, affine or not,
/// frozen layers, renorm), the Sequential pass, and the refusals (training mode, mismatched channels, channels last).
/// </summary>
public class FusionTests
{
    private static void Randomize(BatchNormBase bn, int seed)
    {
        var g = new Generator(seed);
        if (bn.Weight is not null)
        {
            g.FillNormal(bn.Weight.AsSpan(), 1, 0.5);
            g.FillNormal(bn.Bias!.AsSpan());
        }
        g.FillNormal(bn.RunningMean!.AsSpan(), 0, 0.5);
        g.FillUniform(bn.RunningVar!.AsSpan(), 0.2, 3);
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        double scale = Math.Max(1, expected.Max(Math.Abs));
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * scale, $"element {i}: pair {expected[i]}, fused {actual[i]}");
        }
    }

    [Theory]
    [InlineData(true, true, 1)]
    [InlineData(false, true, 1)]
    [InlineData(true, false, 2)]
    [InlineData(false, false, 1)]
    public void Fused_conv_equals_conv_then_batch_norm_in_evaluation(bool convBias, bool affine, int groups)
    {
        var conv = new Conv2d(4, 6, kernelSize: 3, stride: 2, padding: 1, groups: groups, bias: convBias, generator: new Generator(1));
        var bn = new BatchNorm2d(6, eps: 1e-3, affine: affine);
        Randomize(bn, 2);
        conv.Eval();
        bn.Eval();
        var fused = Fusion.FuseConvBatchNorm(conv, bn);
        var x = Tensor.Randn(new Generator(3), 2, 4, 7, 7);
        AssertClose(bn.Forward(conv.Forward(x)).ToArray(), fused.Forward(x).ToArray());
        Assert.False(fused.Training);
        Assert.NotNull(fused.Bias);
        Assert.Equal((conv.Stride, conv.Padding, conv.Groups), (fused.Stride, fused.Padding, fused.Groups));
    }

    [Fact]
    public void Fused_linear_equals_linear_then_batch_norm_in_evaluation()
    {
        foreach (bool bias in new[] { true, false })
        {
            var linear = new Linear(5, 3, bias: bias, generator: new Generator(4));
            var bn = new BatchRenorm1d(3);
            Randomize(bn, 5);
            linear.Eval();
            bn.Eval();
            var fused = Fusion.FuseLinearBatchNorm(linear, bn);
            var x = Tensor.Randn(new Generator(6), 7, 5);
            AssertClose(bn.Forward(linear.Forward(x)).ToArray(), fused.Forward(x).ToArray());
        }
    }

    [Fact]
    public void Frozen_layers_fold_in_either_mode()
    {
        var conv = new Conv2d(2, 3, 3, generator: new Generator(7));
        var bn = new BatchNorm2d(3);
        Randomize(bn, 8);
        var frozen = FrozenBatchNorm2d.From(bn);
        conv.Eval();
        var x = Tensor.Randn(new Generator(9), 2, 2, 5, 5);
        AssertClose(frozen.Forward(conv.Forward(x)).ToArray(), Fusion.FuseConvBatchNorm(conv, frozen).Forward(x).ToArray());
        bn.FreezeStatistics = true;   // in training mode, but normalizing with the running statistics
        AssertClose(frozen.Forward(conv.Forward(x)).ToArray(), Fusion.FuseConvBatchNorm(conv, bn).Forward(x).ToArray());
    }

    [Fact]
    public void FuseSequential_folds_every_pair_including_nested_ones()
    {
        var generator = new Generator(10);
        var model = new Sequential(
            new Conv2d(1, 4, 3, padding: 1, generator: generator), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2),
            new Sequential(new Conv2d(4, 4, 3, padding: 1, bias: false, generator: generator), new GhostBatchNorm2d(4, 2), new ReLU()),
            new Flatten(), new Linear(4 * 4 * 4, 5, generator: generator), new BatchNorm1d(5), new Linear(5, 2, generator: generator));
        var x = Tensor.Randn(new Generator(11), 4, 1, 8, 8);
        model.Forward(x);
        model.Eval();
        var fused = Fusion.FuseSequential(model);
        Assert.Empty(fused.Modules().OfType<BatchNormBase>());
        Assert.Equal(7, fused.Count);
        Assert.False(fused.Training);
        AssertClose(model.Forward(x).ToArray(), fused.Forward(x).ToArray());
    }

    [Fact]
    public void Refuses_training_mode_mismatched_channels_and_channels_last()
    {
        var conv = new Conv2d(2, 3, 3);
        var bn = new BatchNorm2d(3);
        var error = Assert.Throws<ArgumentException>(() => Fusion.FuseConvBatchNorm(conv, bn));
        Assert.Contains("Conv2d training True, BatchNorm2d training True", error.Message, StringComparison.Ordinal);
        conv.Eval();
        error = Assert.Throws<ArgumentException>(() => Fusion.FuseConvBatchNorm(conv, bn));
        Assert.Contains("training False, BatchNorm2d training True", error.Message, StringComparison.Ordinal);
        var wide = new BatchNorm2d(4);
        wide.Eval();
        error = Assert.Throws<ArgumentException>(() => Fusion.FuseConvBatchNorm(conv, wide));
        Assert.Contains("Conv2d.OutChannels = BatchNorm2d.NumFeatures, got 3 and 4", error.Message, StringComparison.Ordinal);
        var last = new BatchNorm2d(3, channelAxis: -1);
        last.Eval();
        error = Assert.Throws<ArgumentException>(() => Fusion.FuseConvBatchNorm(conv, last));
        Assert.Contains("channelAxis -1", error.Message, StringComparison.Ordinal);
        var linear = new Linear(3, 2);
        linear.Eval();
        var untracked = new BatchNorm1d(2, trackRunningStats: false);
        untracked.Eval();
        error = Assert.Throws<ArgumentException>(() => Fusion.FuseLinearBatchNorm(linear, untracked));
        Assert.Contains("trackRunningStats: false", error.Message, StringComparison.Ordinal);
        var narrow = new BatchNorm1d(3);
        narrow.Eval();
        error = Assert.Throws<ArgumentException>(() => Fusion.FuseLinearBatchNorm(linear, narrow));
        Assert.Contains("got 2 and 3", error.Message, StringComparison.Ordinal);
    }
}
