using NormSharp.Nn;

namespace NormSharp.Tests;

/// <summary>Porting helpers: Keras and ONNX momentum and epsilon, and the channels-last hint in channel errors.</summary>
public class BatchNormConventionsTests
{
    [Fact]
    public void Keras_and_onnx_momenta_weigh_the_old_value()
    {
        Assert.Equal(0.01, BatchNormConventions.FromOldValueWeight(BatchNormConventions.KerasMomentum), 1e-15);
        Assert.Equal(0.1, BatchNormConventions.FromOldValueWeight(BatchNormConventions.OnnxMomentum), 1e-15);
        Assert.Equal(0.9, BatchNormConventions.ToOldValueWeight(0.1), 1e-15);
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchNormConventions.FromOldValueWeight(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchNormConventions.ToOldValueWeight(-0.1));
    }

    [Fact]
    public void A_keras_batch_norm_updates_as_keras_does()
    {
        var bn = BatchNormConventions.KerasBatchNorm2d(2);
        Assert.Equal((-1, 1e-3), (bn.ChannelAxis, bn.Eps));
        var x = Tensor.Randn(new Generator(1), 3, 2, 2, 2);
        bn.Forward(x);
        // Keras: moving = 0.99 · moving + 0.01 · batch, from moving mean 0.
        var values = x.ToArray();
        double mean = Enumerable.Range(0, values.Length / 2).Average(i => (double)values[2 * i]);
        Assert.Equal(0.01 * mean, bn.RunningMean!.ToArray()[0], 1e-6);
    }

    [Fact]
    public void A_channel_mismatch_on_channels_last_data_suggests_channelAxis()
    {
        var error = Assert.Throws<ArgumentException>(() => new BatchNorm2d(3).Forward(Tensor.Zeros(2, 8, 8, 3)));
        Assert.Contains("expected 3 channels (numFeatures) along axis 1, got 8", error.Message, StringComparison.Ordinal);
        Assert.Contains("create the layer with channelAxis: -1", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<ArgumentException>(() => new BatchNorm2d(3, channelAxis: -1).Forward(Tensor.Zeros(2, 3, 8, 8)));
        Assert.Contains("channelAxis: 1", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<ArgumentException>(() => new BatchNorm1d(3).Forward(Tensor.Zeros(2, 4)));
        Assert.DoesNotContain("channelAxis:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Momentum_is_settable_and_checked()
    {
        var bn = new BatchNorm1d(2) { Momentum = null };
        Assert.Null(bn.Momentum);
        Assert.Throws<ArgumentOutOfRangeException>(() => bn.Momentum = 1.5);
    }
}
