using NormSharp.Nn;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

public class InstanceNormTests
{
    private static void Randomize(InstanceNormBase norm, int seed)
    {
        var g = new Generator(seed);
        if (norm.Weight is not null)
        {
            g.FillNormal(norm.Weight.AsSpan(), 1, 0.5);
            g.FillNormal(norm.Bias!.AsSpan());
        }
        if (norm.RunningMean is not null)
        {
            g.FillNormal(norm.RunningMean.AsSpan());
            g.FillUniform(norm.RunningVar!.AsSpan(), 0.5, 2);
        }
    }

    [Fact]
    public void Each_instance_channel_is_normalized_over_its_spatial_elements()
    {
        var norm = new InstanceNorm2d(3);
        int[] shape = [2, 3, 2, 3];
        var x = Tensor.Randn(new Generator(1), shape) * 2f + 3f;
        AssertClose(NaiveRows(x.ToArray(), 6, 1e-5), norm.Forward(x).ToArray(), 1e-6, "output");
    }

    public static TheoryData<bool, bool, bool> Modes => new()
    {
        { true, false, false }, { true, true, false }, { true, true, true }, { false, true, true }, { false, false, true }, { false, false, false },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Gradients_match_finite_differences(bool training, bool affine, bool trackRunningStats)
    {
        var norm = new InstanceNorm1d(3, affine: affine, trackRunningStats: trackRunningStats);
        Randomize(norm, 2);
        norm.Train(training);
        var x = Leaf(3, 0.5, 1.5, 2, 3, 4);
        Tensor[] inputs = affine ? [x, norm.Weight!, norm.Bias!] : [x];
        GradCheck.Check(t => norm.Forward(t[0]), inputs);
    }

    [Fact]
    public void Tiny_shape_gradients_are_correct()
    {
        var norm = new InstanceNorm2d(2, affine: true);
        Randomize(norm, 4);
        var x = Tensor.FromArray([0.2f, -0.7f, 1.3f, 0.1f], 1, 2, 2, 1);
        x.RequiresGrad = true;
        GradCheck.Check(t => norm.Forward(t[0]), [x, norm.Weight!, norm.Bias!]);
    }

    [Fact]
    public void Tracked_running_statistics_move_toward_the_batch_average_of_instance_statistics()
    {
        const double momentum = 0.2;
        var norm = new InstanceNorm1d(2, momentum: momentum, trackRunningStats: true);
        int[] shape = [3, 2, 5];
        var x = Tensor.Randn(new Generator(5), shape) * 2f + 1f;
        norm.Forward(x);
        var data = x.ToArray();
        for (int c = 0; c < 2; c++)
        {
            double meanAverage = 0, varianceAverage = 0;
            for (int n = 0; n < 3; n++)
            {
                var values = data.Skip((n * 2 + c) * 5).Take(5).Select(v => (double)v).ToArray();
                double mean = values.Average();
                meanAverage += mean / 3;
                varianceAverage += values.Select(v => (v - mean) * (v - mean)).Sum() / 4 / 3;   // unbiased
            }
            Assert.Equal((1 - momentum) * 0 + momentum * meanAverage, norm.RunningMean!.ToArray()[c], 5);
            Assert.Equal((1 - momentum) * 1 + momentum * varianceAverage, norm.RunningVar!.ToArray()[c], 5);
        }
        Assert.Equal(0, norm.NumBatchesTracked);   // PyTorch's instance norm does not count
    }

    [Fact]
    public void Momentum_null_leaves_running_statistics_in_place_as_PyTorch()
    {
        var norm = new InstanceNorm1d(2, momentum: null, trackRunningStats: true);
        norm.Forward(Tensor.Randn(new Generator(6), 3, 2, 5) + 3f);
        Assert.Equal([0f, 0f], norm.RunningMean!.ToArray());
        Assert.Equal([1f, 1f], norm.RunningVar!.ToArray());
    }

    [Fact]
    public void Evaluation_with_tracked_statistics_uses_them()
    {
        var norm = new InstanceNorm2d(2, affine: true, trackRunningStats: true);
        Randomize(norm, 7);
        norm.Eval();
        int[] shape = [2, 2, 2, 2];
        var x = Tensor.Randn(new Generator(8), shape);
        var expected = NaiveBatchNorm(x.ToArray(), shape, 1,
            norm.RunningMean!.ToArray().Select(v => (double)v).ToArray(), norm.RunningVar!.ToArray().Select(v => (double)v).ToArray(),
            norm.Weight!.ToArray(), norm.Bias!.ToArray(), 1e-5);
        AssertClose(expected, norm.Forward(x).ToArray(), 1e-6, "eval output");

        // Without tracking, evaluation still normalizes per instance.
        var untracked = new InstanceNorm2d(2);
        untracked.Eval();
        AssertClose(NaiveRows(x.ToArray(), 4, 1e-5), untracked.Forward(x).ToArray(), 1e-6, "untracked eval output");
    }

    [Fact]
    public void Unbatched_input_equals_a_batch_of_one()
    {
        var norm = new InstanceNorm1d(3, affine: true);
        Randomize(norm, 9);
        var x = Tensor.Randn(new Generator(10), 3, 4);
        var unbatched = norm.Forward(x);
        Assert.Equal([3, 4], unbatched.Shape);
        Assert.Equal(norm.Forward(x.Reshape(1, 3, 4)).ToArray(), unbatched.ToArray());
    }

    [Fact]
    public void Bad_input_throws_naming_expected_and_actual()
    {
        var norm = new InstanceNorm2d(3);
        var ex = Assert.Throws<ArgumentException>(() => norm.Forward(Tensor.Zeros(2, 3)));
        Assert.Contains("InstanceNorm2d expected 4-D input (N, C, H, W) or 3-D unbatched input (C, H, W), got 2-D input of shape [2, 3]", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => norm.Forward(Tensor.Zeros(2, 4, 2, 2)));
        Assert.Contains("expected 3 channels (numFeatures) along axis 1, got 4 in input of shape [2, 4, 2, 2]", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => norm.Forward(Tensor.Zeros(2, 3, 1, 1)));
        Assert.Contains("Expected more than 1 spatial element when training, got input size [2, 3, 1, 1]", ex.Message, StringComparison.Ordinal);
    }
}
