using NormSharp.Functional;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

/// <summary>The functional forms: explicit training flag, in-place running statistics, argument checks.</summary>
public class FNormalizationTests
{
    [Fact]
    public void Batch_norm_training_updates_the_given_running_statistics_in_place()
    {
        var x = Tensor.FromArray([1f, 10f, 3f, 20f], 2, 2);
        var runningMean = Tensor.Zeros(2);
        var runningVar = Tensor.Ones(2);
        var y = F.BatchNorm(x, runningMean, runningVar, training: true, momentum: 0.5, eps: 0);
        Assert.Equal([-1f, -1f, 1f, 1f], y.ToArray());
        Assert.Equal([1f, 7.5f], runningMean.ToArray());        // 0.5 · 0 + 0.5 · [2, 15]
        Assert.Equal([1.5f, 25.5f], runningVar.ToArray());      // 0.5 · 1 + 0.5 · [2, 50] (unbiased)
    }

    [Fact]
    public void Batch_norm_training_without_running_statistics_only_normalizes()
    {
        var x = Tensor.Randn(new Generator(1), 4, 3, 2);
        var y = F.BatchNorm(x, null, null, training: true);
        var (mean, variance, _) = ChannelStatistics(x.ToArray(), [4, 3, 2], 1);
        AssertClose(NaiveBatchNorm(x.ToArray(), [4, 3, 2], 1, mean, variance, null, null, 1e-5), y.ToArray(), 1e-6, "output");
    }

    [Fact]
    public void Batch_norm_evaluation_needs_running_statistics()
    {
        var ex = Assert.Throws<ArgumentException>(() => F.BatchNorm(Tensor.Zeros(2, 3), null, null));
        Assert.Contains("runningMean and runningVar are null", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => F.BatchNorm(Tensor.Zeros(2, 3), Tensor.Zeros(3), null, training: true));
    }

    [Fact]
    public void Batch_norm_checks_parameter_lengths_and_rank()
    {
        var ex = Assert.Throws<ArgumentException>(() => F.BatchNorm(Tensor.Zeros(2, 3), Tensor.Zeros(4), Tensor.Ones(4)));
        Assert.Contains("runningMean must have shape [3]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("got [4]", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => F.BatchNorm(Tensor.Zeros(2, 3), null, null, weight: Tensor.Ones(2), training: true));
        Assert.Contains("weight must have shape [3]", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => F.BatchNorm(Tensor.Zeros(3), null, null, training: true));
        Assert.Contains("got 1-D input of shape [3]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Batch_norm_gradients_match_finite_differences_with_channels_last()
    {
        var x = Leaf(1, 0, 1, 2, 3, 4);
        var w = Leaf(2, 1, 0.5, 4);
        var b = Leaf(3, 0, 1, 4);
        GradCheck.Check(t => F.BatchNorm(t[0], null, null, t[1], t[2], training: true, channelAxis: -1), [x, w, b]);
    }

    [Fact]
    public void Instance_norm_without_input_stats_uses_running_statistics()
    {
        var x = Tensor.Randn(new Generator(4), 2, 2, 3);
        var rm = Tensor.FromArray([0.5f, -1f], 2);
        var rv = Tensor.FromArray([2f, 0.5f], 2);
        var y = F.InstanceNorm(x, rm, rv, useInputStats: false, eps: 0);
        var expected = NaiveBatchNorm(x.ToArray(), [2, 2, 3], 1, [0.5, -1], [2, 0.5], null, null, 0);
        AssertClose(expected, y.ToArray(), 1e-6, "output");
        Assert.Throws<ArgumentException>(() => F.InstanceNorm(x, useInputStats: false));
    }

    [Fact]
    public void Layer_norm_and_group_norm_check_their_parameter_shapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => F.LayerNorm(Tensor.Zeros(2, 3), [3], Tensor.Ones(2)));
        Assert.Contains("weight must have shape [3] (normalizedShape), got [2]", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => F.GroupNorm(Tensor.Zeros(2, 4, 3), 2, bias: Tensor.Zeros(3)));
        Assert.Contains("bias must have shape [4]", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => F.GroupNorm(Tensor.Zeros(2, 4, 3), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => F.LayerNorm(Tensor.Zeros(2, 3), [3], eps: -1));
    }

    [Fact]
    public void Layer_norm_with_weight_only_has_correct_gradients()
    {
        var x = Leaf(5, 0, 2, 3, 4);
        var w = Leaf(6, 1, 0.5, 4);
        GradCheck.Check(t => F.LayerNorm(t[0], [4], t[1]), [x, w]);
    }

    [Fact]
    public void Rms_norm_without_weight_has_unit_root_mean_square_rows()
    {
        var y = F.RmsNorm(Tensor.Randn(new Generator(7), 3, 16) * 5f, [16], eps: 0).ToArray();
        for (int r = 0; r < 3; r++)
        {
            double meanSquare = y.Skip(r * 16).Take(16).Select(v => (double)v * v).Average();
            Assert.Equal(1, meanSquare, 5);
        }
    }
}
