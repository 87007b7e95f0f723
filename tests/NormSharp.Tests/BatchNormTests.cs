using NormSharp.Nn;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

/// <summary>
/// BatchNorm1d/2d/3d as modules: gradient checks (random upstream gradient) in every mode, the composed-op
/// reference, statistical properties, the running-statistics rule over several steps, channels last, freezing,
/// numerical robustness, and the errors on bad input.
/// </summary>
public class BatchNormTests
{
    /// <summary>Rank 2: BatchNorm1d on (N, C); 3: BatchNorm1d on (N, C, L); 4: BatchNorm2d; 5: BatchNorm3d.</summary>
    private static BatchNormBase Make(int rank, int channels, bool affine = true, int channelAxis = 1, double? momentum = 0.1, bool trackRunningStats = true, double eps = 1e-5) => rank switch
    {
        2 or 3 => new BatchNorm1d(channels, eps, momentum, affine, trackRunningStats, channelAxis),
        4 => new BatchNorm2d(channels, eps, momentum, affine, trackRunningStats, channelAxis),
        5 => new BatchNorm3d(channels, eps, momentum, affine, trackRunningStats, channelAxis),
        _ => throw new ArgumentOutOfRangeException(nameof(rank)),
    };

    /// <summary>(N, C, spatial...) for channel axis 1, (N, spatial..., C) for -1.</summary>
    private static int[] Shape(int batch, int channels, int[] spatial, int channelAxis) =>
        channelAxis == 1 ? [batch, channels, .. spatial] : [batch, .. spatial, channels];

    private static void Randomize(BatchNormBase bn, int seed)
    {
        var g = new Generator(seed);
        if (bn.Weight is not null)
        {
            g.FillNormal(bn.Weight.AsSpan(), 1, 0.5);
            g.FillNormal(bn.Bias!.AsSpan());
        }
        if (bn.RunningMean is not null)
        {
            g.FillNormal(bn.RunningMean.AsSpan());
            g.FillUniform(bn.RunningVar!.AsSpan(), 0.5, 2);
        }
    }

    public static TheoryData<int, int, int[], bool, bool, int> GradientCases()
    {
        var data = new TheoryData<int, int, int[], bool, bool, int>();
        var layouts = new (int Batch, int Channels, int[] Spatial)[]
        {
            (4, 3, []),          // BatchNorm1d (N, C)
            (2, 1, []),          // tiny: N = 2, one channel
            (3, 2, [4]),         // BatchNorm1d (N, C, L)
            (2, 3, [1]),         // tiny: N = 2, spatial 1
            (2, 3, [2, 2]),      // BatchNorm2d
            (2, 2, [1, 1]),      // BatchNorm2d, spatial 1
            (2, 2, [2, 1, 2]),   // BatchNorm3d
        };
        foreach (var (batch, channels, spatial) in layouts)
        {
            foreach (bool training in new[] { true, false })
            {
                foreach (bool affine in new[] { true, false })
                {
                    foreach (int axis in new[] { 1, -1 })
                    {
                        data.Add(batch, channels, spatial, training, affine, axis);
                    }
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void Gradients_match_finite_differences(int batch, int channels, int[] spatial, bool training, bool affine, int channelAxis)
    {
        var shape = Shape(batch, channels, spatial, channelAxis);
        var bn = Make(shape.Length, channels, affine, channelAxis);
        Randomize(bn, shape.Sum());
        bn.Train(training);
        var x = Leaf(shape.Sum() + channels, 0.5, 1.5, shape);
        Tensor[] inputs = affine ? [x, bn.Weight!, bn.Bias!] : [x];
        GradCheck.Check(t => bn.Forward(t[0]), inputs, seed: shape.Length);
    }

    /// <summary>The same layer written with primitive autograd ops: mean and biased variance over every axis but the channel's.</summary>
    private static Tensor ComposedBatchNorm(Tensor x, int channelAxis, Tensor? weight, Tensor? bias, double eps)
    {
        int axis = channelAxis < 0 ? channelAxis + x.Rank : channelAxis;
        Tensor Reduce(Tensor t)
        {
            for (int d = 0; d < t.Rank; d++)
            {
                if (d != axis)
                {
                    t = t.Mean(d, keepDim: true);
                }
            }
            return t;
        }
        var centered = x - Reduce(x);
        var y = centered / (Reduce(centered * centered) + (float)eps).Sqrt();
        var parameterShape = Enumerable.Repeat(1, x.Rank).ToArray();
        parameterShape[axis] = x.Size(axis);
        if (weight is not null)
        {
            y = y * weight.Reshape(parameterShape);
        }
        if (bias is not null)
        {
            y = y + bias.Reshape(parameterShape);
        }
        return y;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public void Fused_training_forward_and_backward_match_the_composed_ops(int channelAxis)
    {
        var shape = Shape(3, 4, [3, 2], channelAxis);
        var bn = Make(4, 4, channelAxis: channelAxis);
        Randomize(bn, 3);
        var x = Leaf(8, -1, 2, shape);
        var upstream = Tensor.Randn(new Generator(9), shape);

        var fused = bn.Forward(x);
        fused.Backward(upstream);
        var (fusedInput, fusedWeight, fusedBias) = (x.Grad!.ToArray(), bn.Weight!.Grad!.ToArray(), bn.Bias!.Grad!.ToArray());
        x.Grad = null;
        bn.ZeroGrad();

        var composed = ComposedBatchNorm(x, channelAxis, bn.Weight, bn.Bias, bn.Eps);
        composed.Backward(upstream);
        AssertClose(composed.ToArray(), fused.ToArray(), 1e-5, "output");
        AssertClose(x.Grad!.ToArray(), fusedInput, 1e-4, "gradInput");
        AssertClose(bn.Weight.Grad!.ToArray(), fusedWeight, 1e-4, "gradWeight");
        AssertClose(bn.Bias.Grad!.ToArray(), fusedBias, 1e-4, "gradBias");
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    [InlineData(3, -1)]
    [InlineData(4, 1)]
    [InlineData(4, -1)]
    [InlineData(5, -1)]
    public void Training_output_matches_the_naive_formula_and_has_per_channel_mean_0_variance_1(int rank, int channelAxis)
    {
        int[] spatial = [.. new[] { 3, 2, 2 }.Take(rank - 2)];
        var shape = Shape(5, 3, spatial, channelAxis);
        var bn = Make(rank, 3, affine: false, channelAxis: channelAxis);
        var x = Tensor.Randn(new Generator(rank), shape) * 3f + 2f;
        var y = bn.Forward(x).ToArray();

        int axis = channelAxis < 0 ? rank - 1 : 1;
        var (mean, variance, _) = ChannelStatistics(x.ToArray(), shape, axis);
        AssertClose(NaiveBatchNorm(x.ToArray(), shape, axis, mean, variance, null, null, 1e-5), y, 1e-6, "output");
        var (outMean, outVariance, _) = ChannelStatistics(y, shape, axis);
        for (int c = 0; c < 3; c++)
        {
            Assert.True(Math.Abs(outMean[c]) < 1e-6, $"channel {c} mean {outMean[c]}");
            Assert.True(Math.Abs(outVariance[c] - 1) < 1e-3, $"channel {c} variance {outVariance[c]}");
        }
    }

    [Fact]
    public void Channel_with_mean_1e4_and_std_1e_2_normalizes_to_mean_0_variance_1()
    {
        // Channel 0: mean 1e4, std 1e-2; channel 1: ordinary. eps tiny so that var/(var + eps) = 1 to 1e-5.
        const int n = 512;
        var data = new float[n * 2];
        var g = new Generator(42);
        for (int i = 0; i < n; i++)
        {
            data[2 * i] = (float)(1e4 + 1e-2 * g.NextNormal());
            data[2 * i + 1] = (float)g.NextNormal();
        }
        var x = Tensor.FromArray(data, n, 2);
        foreach (double eps in new[] { 1e-9, 1e-5 })
        {
            var bn = new BatchNorm1d(2, eps: eps, affine: false);
            var y = bn.Forward(x).ToArray();
            var (inMean, inVariance, _) = ChannelStatistics(data, [n, 2], 1);
            var (mean, variance, _) = ChannelStatistics(y, [n, 2], 1);
            for (int c = 0; c < 2; c++)
            {
                double expectedVariance = inVariance[c] / (inVariance[c] + eps);
                Assert.True(Math.Abs(mean[c]) < 1e-3, $"eps {eps}, channel {c}: mean {mean[c]}");
                Assert.True(Math.Abs(variance[c] - expectedVariance) < 1e-3, $"eps {eps}, channel {c}: variance {variance[c]}, expected {expectedVariance}");
                Assert.True(variance[c] >= 0);
            }
            if (eps == 1e-9)
            {
                Assert.True(Math.Abs(variance[0] - 1) < 1e-3, $"offset channel variance {variance[0]}");
            }
            // The running statistics see the same robust statistics.
            Assert.Equal(0.9 * 0 + 0.1 * inMean[0], bn.RunningMean!.ToArray()[0], 0.01);
            Assert.True(Math.Abs(bn.RunningVar!.ToArray()[0] - (0.9 + 0.1 * inVariance[0] * n / (n - 1))) < 1e-6);
        }
    }

    [Fact]
    public void Constant_channel_gives_finite_output_equal_to_the_bias_and_finite_gradients()
    {
        var bn = new BatchNorm2d(2);
        bn.Bias!.AsSpan()[0] = 0.75f;
        bn.Weight!.AsSpan()[0] = 3f;
        var x = Tensor.Zeros(3, 2, 2, 2);
        var data = x.AsSpan();
        var g = new Generator(1);
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = ShapeIndexChannel(i) == 0 ? 7.25f : (float)g.NextNormal();
        }
        x.RequiresGrad = true;
        var y = bn.Forward(x);
        y.Backward(Tensor.Randn(new Generator(2), y.Shape));
        var output = y.ToArray();
        for (int i = 0; i < output.Length; i++)
        {
            Assert.True(float.IsFinite(output[i]));
            if (ShapeIndexChannel(i) == 0)
            {
                Assert.Equal(0.75f, output[i]);
            }
        }
        Assert.All(x.Grad!.ToArray(), v => Assert.True(float.IsFinite(v)));
        Assert.All(bn.RunningVar!.ToArray(), v => Assert.True(v >= 0));

        static int ShapeIndexChannel(int i) => ChannelOf(i, [3, 2, 2, 2], 1);
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.3)]
    public void Running_statistics_after_k_steps_equal_their_closed_form(double momentum)
    {
        const int steps = 5, channels = 3;
        int[] shape = [4, channels, 2, 3];
        var bn = new BatchNorm2d(channels, momentum: momentum);
        var batchMeans = new List<double[]>();
        var batchVariances = new List<double[]>();
        for (int k = 0; k < steps; k++)
        {
            var x = Tensor.Randn(new Generator(100 + k), shape) * (1f + k) + k;
            var (mean, variance, count) = ChannelStatistics(x.ToArray(), shape, 1);
            batchMeans.Add(mean);
            batchVariances.Add(variance.Select(v => v * count / (count - 1)).ToArray());
            bn.Forward(x);
        }
        Assert.Equal(steps, bn.NumBatchesTracked);
        for (int c = 0; c < channels; c++)
        {
            // running_k = (1 − m)^k · running_0 + Σ_j m (1 − m)^(k−1−j) · batch_j, with running_0 = 0 (mean) and 1 (var)
            double expectedMean = 0, expectedVar = Math.Pow(1 - momentum, steps);
            for (int j = 0; j < steps; j++)
            {
                double weight = momentum * Math.Pow(1 - momentum, steps - 1 - j);
                expectedMean += weight * batchMeans[j][c];
                expectedVar += weight * batchVariances[j][c];
            }
            Assert.True(Math.Abs(bn.RunningMean!.ToArray()[c] - expectedMean) <= 1e-5 * Math.Max(1, Math.Abs(expectedMean)), $"mean {c}");
            Assert.True(Math.Abs(bn.RunningVar!.ToArray()[c] - expectedVar) <= 1e-5 * Math.Max(1, expectedVar), $"var {c}");
        }
    }

    [Fact]
    public void Momentum_null_gives_the_plain_average_of_the_batch_statistics()
    {
        const int steps = 4, channels = 2;
        int[] shape = [6, channels];
        var bn = new BatchNorm1d(channels, momentum: null);
        var means = new double[channels];
        var variances = new double[channels];
        for (int k = 0; k < steps; k++)
        {
            var x = Tensor.Randn(new Generator(7 * k), shape) * (2f + k) - k;
            var (mean, variance, count) = ChannelStatistics(x.ToArray(), shape, 1);
            for (int c = 0; c < channels; c++)
            {
                means[c] += mean[c] / steps;
                variances[c] += variance[c] * count / (count - 1) / steps;
            }
            bn.Forward(x);
        }
        AssertClose(means, bn.RunningMean!.ToArray(), 1e-5, "running mean");
        AssertClose(variances, bn.RunningVar!.ToArray(), 1e-5, "running var");
    }

    [Fact]
    public void Evaluation_uses_running_statistics_and_updates_nothing()
    {
        var bn = new BatchNorm2d(3);
        Randomize(bn, 5);
        bn.Eval();
        var runningMean = bn.RunningMean!.ToArray();
        var runningVar = bn.RunningVar!.ToArray();
        int[] shape = [1, 3, 2, 2];   // a single sample is fine in evaluation
        var x = Tensor.Randn(new Generator(6), shape);
        var y = bn.Forward(x).ToArray();
        var expected = NaiveBatchNorm(x.ToArray(), shape, 1, runningMean.Select(v => (double)v).ToArray(),
            runningVar.Select(v => (double)v).ToArray(), bn.Weight!.ToArray(), bn.Bias!.ToArray(), 1e-5);
        AssertClose(expected, y, 1e-6, "eval output");
        Assert.Equal(runningMean, bn.RunningMean.ToArray());
        Assert.Equal(runningVar, bn.RunningVar.ToArray());
        Assert.Equal(0, bn.NumBatchesTracked);
    }

    [Fact]
    public void Evaluation_without_running_statistics_uses_batch_statistics()
    {
        var bn = new BatchNorm1d(2, trackRunningStats: false);
        Assert.Null(bn.RunningMean);
        Assert.Null(bn.RunningVar);
        var x = Tensor.Randn(new Generator(3), 5, 2) * 4f;
        var train = bn.Forward(x).ToArray();
        bn.Eval();
        Assert.Equal(train, bn.Forward(x).ToArray());
        Assert.Equal(0, bn.NumBatchesTracked);
        // ... and so, like PyTorch, refuses one value per channel there too.
        var ex = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(1, 2)));
        Assert.Contains("Expected more than 1 value per channel when training, got input size [1, 2]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Batch_norm_in_eval_mode_inside_a_training_model_freezes_statistics_but_trains_the_affine_parameters()
    {
        var linear = new Linear(4, 3, generator: new Generator(1));
        var bn = new BatchNorm1d(3);
        Randomize(bn, 2);
        var model = new Sequential(linear, bn);
        model.Train();
        bn.Eval();
        Assert.True(model.Training);
        Assert.True(linear.Training);
        Assert.False(bn.Training);

        var runningMean = bn.RunningMean!.ToArray();
        var runningVar = bn.RunningVar!.ToArray();
        var x = Tensor.Randn(new Generator(3), 5, 4);
        var upstream = Tensor.Randn(new Generator(4), 5, 3);
        var y = model.Forward(x);
        y.Backward(upstream);

        Assert.Equal(runningMean, bn.RunningMean.ToArray());
        Assert.Equal(runningVar, bn.RunningVar.ToArray());
        Assert.Equal(0, bn.NumBatchesTracked);
        Assert.NotNull(linear.Weight.Grad);

        // With frozen statistics: gradBias = Σ dy, gradWeight = Σ dy · (h − runningMean) / √(runningVar + eps).
        Tensor h;
        using (new Autograd.NoGrad())
        {
            h = linear.Forward(x);
        }
        var hv = h.ToArray();
        var g = upstream.ToArray();
        for (int c = 0; c < 3; c++)
        {
            double sumGrad = 0, sumGradNormalized = 0;
            for (int n = 0; n < 5; n++)
            {
                sumGrad += g[n * 3 + c];
                sumGradNormalized += g[n * 3 + c] * (hv[n * 3 + c] - runningMean[c]) / Math.Sqrt(runningVar[c] + 1e-5);
            }
            Assert.Equal(sumGrad, bn.Bias!.Grad!.ToArray()[c], 4);
            Assert.Equal(sumGradNormalized, bn.Weight!.Grad!.ToArray()[c], 4);
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Channels_last_equals_permute_then_channels_first_then_permute_back(int rank)
    {
        int[] spatial = [.. new[] { 3, 2, 2 }.Take(rank - 2)];
        var lastShape = Shape(3, 4, spatial, -1);
        // (N, *, C) → (N, C, *): dims [0, rank − 1, 1, ..., rank − 2]
        int[] toFirst = [0, rank - 1, .. Enumerable.Range(1, rank - 2)];
        var last = Make(rank, 4, channelAxis: -1);
        var first = Make(rank, 4, channelAxis: 1);
        Randomize(last, 11);
        Randomize(first, 11);

        var x = Leaf(12, 1, 2, lastShape);
        var upstream = Tensor.Randn(new Generator(13), lastShape);
        var yLast = last.Forward(x);
        yLast.Backward(upstream);
        var gradLast = x.Grad!.ToArray();
        x.Grad = null;

        var yFirst = first.Forward(x.Permute(toFirst)).Permute(Inverse(toFirst));
        yFirst.Backward(upstream);

        AssertClose(yFirst.ToArray(), yLast.ToArray(), 1e-6, "output");
        AssertClose(x.Grad!.ToArray(), gradLast, 1e-5, "gradInput");
        AssertClose(first.Weight!.Grad!.ToArray(), last.Weight!.Grad!.ToArray(), 1e-5, "gradWeight");
        AssertClose(first.Bias!.Grad!.ToArray(), last.Bias!.Grad!.ToArray(), 1e-5, "gradBias");
        AssertClose(first.RunningMean!.ToArray(), last.RunningMean!.ToArray(), 1e-6, "running mean");
        AssertClose(first.RunningVar!.ToArray(), last.RunningVar!.ToArray(), 1e-6, "running var");
    }

    [Fact]
    public void Only_the_needed_gradients_are_computed()
    {
        var bn = new BatchNorm1d(3);
        Randomize(bn, 1);
        bn.Bias!.RequiresGrad = false;
        var x = Tensor.Randn(new Generator(2), 4, 3);   // does not require gradients
        var y = bn.Forward(x);
        y.Backward(Tensor.Randn(new Generator(3), 4, 3));
        Assert.Null(x.Grad);
        Assert.Null(bn.Bias.Grad);
        Assert.NotNull(bn.Weight!.Grad);

        var plain = new BatchNorm1d(3, affine: false);
        var z = plain.Forward(Tensor.Randn(new Generator(4), 4, 3));
        Assert.False(z.RequiresGrad);
    }

    [Fact]
    public void Empty_batch_gives_empty_output_and_leaves_running_statistics_alone()
    {
        var bn = new BatchNorm2d(3);
        var y = bn.Forward(Tensor.Zeros(0, 3, 2, 2));
        Assert.Equal([0, 3, 2, 2], y.Shape);
        Assert.Equal(new float[3], bn.RunningMean!.ToArray());
        Assert.Equal([1f, 1f, 1f], bn.RunningVar!.ToArray());
        Assert.Equal(1, bn.NumBatchesTracked);   // PyTorch counts the forward before it looks at the data
    }

    [Theory]
    [InlineData(2, new[] { 2, 3, 4, 5 }, "BatchNorm1d expected 2-D input (N, C) or 3-D input (N, C, L), got 4-D input of shape [2, 3, 4, 5]")]
    [InlineData(2, new[] { 3 }, "BatchNorm1d expected 2-D input (N, C) or 3-D input (N, C, L), got 1-D input of shape [3]")]
    [InlineData(4, new[] { 2, 3, 4 }, "BatchNorm2d expected 4-D input (N, C, H, W), got 3-D input of shape [2, 3, 4]")]
    [InlineData(5, new[] { 2, 3, 4, 4 }, "BatchNorm3d expected 5-D input (N, C, D, H, W), got 4-D input of shape [2, 3, 4, 4]")]
    public void Wrong_rank_throws_naming_the_expected_layout_and_the_shape(int rank, int[] shape, string message)
    {
        var bn = Make(rank, 3);
        var ex = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(shape)));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Channels_last_rank_error_names_the_channels_last_layout()
    {
        var bn = new BatchNorm2d(3, channelAxis: -1);
        var ex = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(2, 4, 3)));
        Assert.Contains("BatchNorm2d expected 4-D input (N, H, W, C), got 3-D input of shape [2, 4, 3]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Channel_count_mismatch_throws_naming_both_counts_the_axis_and_the_shape()
    {
        var bn = new BatchNorm2d(64);
        var ex = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(2, 32, 3, 3)));
        Assert.Contains("BatchNorm2d expected 64 channels (numFeatures) along axis 1, got 32 in input of shape [2, 32, 3, 3]", ex.Message, StringComparison.Ordinal);

        var last = new BatchNorm2d(3, channelAxis: -1);
        ex = Assert.Throws<ArgumentException>(() => last.Forward(Tensor.Zeros(2, 3, 4, 5)));
        Assert.Contains("expected 3 channels (numFeatures) along axis 3, got 5", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { 1, 3 })]
    [InlineData(new[] { 1, 3, 1 })]
    public void Batch_of_one_value_per_channel_in_training_throws_like_PyTorch_and_counts_nothing(int[] shape)
    {
        var bn = new BatchNorm1d(3);
        var ex = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(shape)));
        Assert.Contains($"Expected more than 1 value per channel when training, got input size [{string.Join(", ", shape)}]", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, bn.NumBatchesTracked);
        Assert.Equal(new float[3], bn.RunningMean!.ToArray());
        // One sample with several values per channel is fine.
        bn.Forward(Tensor.Randn(new Generator(1), 1, 3, 4));
    }

    [Fact]
    public void Channel_axis_out_of_range_throws_naming_it()
    {
        var bn = new BatchNorm1d(3, channelAxis: 2);
        var ex = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(4, 3)));
        Assert.Contains("channelAxis 2 is out of range for 2-D input of shape [4, 3]", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNorm2d(3, channelAxis: 0));
    }

    [Fact]
    public void Batch_norm_1d_on_N_C_input_is_the_same_for_both_channel_axes()
    {
        var x = Tensor.Randn(new Generator(5), 6, 4);
        var first = new BatchNorm1d(4).Forward(x).ToArray();
        var last = new BatchNorm1d(4, channelAxis: -1).Forward(x).ToArray();
        Assert.Equal(first, last);
    }
}
