using NormSharp.Nn;

namespace NormSharp.Tests;

/// <summary>What every BatchNorm/InstanceNorm layer inherits: parameters, buffers, their names and resets, argument checks.</summary>
public class NormBaseTests
{
    [Fact]
    public void Parameters_and_buffers_start_as_PyTorch_and_carry_its_names()
    {
        var bn = new BatchNorm2d(3);
        Assert.Equal([1f, 1f, 1f], bn.Weight!.ToArray());
        Assert.Equal([0f, 0f, 0f], bn.Bias!.ToArray());
        Assert.Equal([0f, 0f, 0f], bn.RunningMean!.ToArray());
        Assert.Equal([1f, 1f, 1f], bn.RunningVar!.ToArray());
        Assert.True(bn.Weight.RequiresGrad);
        Assert.False(bn.RunningMean.RequiresGrad);
        Assert.Equal(["weight", "bias"], bn.NamedParameters().Select(p => p.Key));
        Assert.Equal(["running_mean", "running_var"], bn.NamedBuffers().Select(b => b.Key));
        Assert.Equal(0, bn.NumBatchesTracked);
        Assert.Equal((1e-5, 0.1, true, true, 1), (bn.Eps, bn.Momentum!.Value, bn.Affine, bn.TrackRunningStats, bn.ChannelAxis));

        var model = new Sequential(new Linear(2, 3), new BatchNorm1d(3));
        Assert.Contains("1.running_mean", model.NamedBuffers().Select(b => b.Key));
        Assert.Contains("1.weight", model.NamedParameters().Select(b => b.Key));
    }

    [Fact]
    public void Without_affine_or_tracking_the_members_are_null()
    {
        var bn = new BatchNorm1d(4, affine: false, trackRunningStats: false);
        Assert.Null(bn.Weight);
        Assert.Null(bn.Bias);
        Assert.Null(bn.RunningMean);
        Assert.Null(bn.RunningVar);
        Assert.Empty(bn.Parameters());
        Assert.Empty(bn.NamedBuffers());
        bn.ResetParameters();   // no-op, no throw
    }

    [Fact]
    public void Instance_norm_defaults_differ_from_batch_norm()
    {
        var norm = new InstanceNorm2d(3);
        Assert.False(norm.Affine);
        Assert.False(norm.TrackRunningStats);
        Assert.Null(norm.Weight);
        Assert.Null(norm.RunningMean);
    }

    [Fact]
    public void Reset_running_stats_restores_zero_one_and_the_count()
    {
        var bn = new BatchNorm1d(2);
        bn.Weight!.AsSpan().Fill(3f);
        bn.Forward(Tensor.Randn(new Generator(1), 5, 2) + 4f);
        bn.Forward(Tensor.Randn(new Generator(2), 5, 2) + 4f);
        Assert.Equal(2, bn.NumBatchesTracked);
        Assert.NotEqual([0f, 0f], bn.RunningMean!.ToArray());

        bn.ResetRunningStats();
        Assert.Equal([0f, 0f], bn.RunningMean.ToArray());
        Assert.Equal([1f, 1f], bn.RunningVar!.ToArray());
        Assert.Equal(0, bn.NumBatchesTracked);
        Assert.Equal([3f, 3f], bn.Weight.ToArray());   // parameters untouched

        bn.Bias!.AsSpan().Fill(2f);
        bn.ResetParameters();
        Assert.Equal([1f, 1f], bn.Weight.ToArray());
        Assert.Equal([0f, 0f], bn.Bias.ToArray());
    }

    [Fact]
    public void Reset_keeps_the_same_tensors_so_optimizers_and_checkpoints_still_point_at_them()
    {
        var bn = new BatchNorm1d(2);
        var weight = bn.Weight;
        var running = bn.RunningMean;
        bn.ResetParameters();
        Assert.Same(weight, bn.Weight);
        Assert.Same(running, bn.RunningMean);
        Assert.Same(weight, bn.Parameters().First());
    }

    [Theory]
    [InlineData(-1, 1e-5, 0.1)]
    [InlineData(3, -1e-5, 0.1)]
    [InlineData(3, double.NaN, 0.1)]
    [InlineData(3, 1e-5, 1.5)]
    [InlineData(3, 1e-5, -0.1)]
    public void Invalid_constructor_arguments_throw(int numFeatures, double eps, double momentum)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNorm1d(numFeatures, eps, momentum));
    }

    [Fact]
    public void Keras_style_momentum_is_accepted_but_weighs_the_new_value()
    {
        // 0.99 is legal (PyTorch accepts it) and means "almost only the last batch": the documented porting trap.
        var bn = new BatchNorm1d(1, momentum: 0.99);
        bn.Forward(Tensor.FromArray([1f, 3f], 2, 1));
        Assert.Equal(0.99 * 2, bn.RunningMean!.ToArray()[0], 5);
    }

    [Fact]
    public void ToString_names_the_arguments()
    {
        Assert.Equal("BatchNorm2d(64, eps: 1E-05, momentum: 0.1, affine: True, trackRunningStats: True)", new BatchNorm2d(64).ToString());
        Assert.Equal("BatchNorm1d(8, eps: 0.001, momentum: null, affine: False, trackRunningStats: True, channelAxis: -1)",
            new BatchNorm1d(8, 1e-3, null, false, true, -1).ToString());
    }
}
