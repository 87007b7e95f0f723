using NormSharp.Functional;
using NormSharp.Nn;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

/// <summary>
/// BatchNorm1d.Forward(input, mask) and F.MaskedBatchNorm: an all-valid mask is BatchNorm1d; with padding, the valid
/// outputs, every gradient and the running statistics equal BatchNorm1d run on the gathered valid positions (N · L − padding, C);
/// gradient checks with a random upstream gradient; padded outputs and gradients are 0; errors on bad input.
/// </summary>
public class MaskedBatchNormTests
{
    /// <summary>(N, C, L) for channel axis 1, (N, L, C) for -1.</summary>
    private static int[] Shape(int batch, int channels, int length, int axis) =>
        axis == 1 ? [batch, channels, length] : [batch, length, channels];

    private static int Index(int n, int c, int l, int channels, int length, int axis) =>
        axis == 1 ? (n * channels + c) * length + l : (n * length + l) * channels + c;

    /// <summary>A mask (N, L) whose sample n keeps its first lengths[n] positions.</summary>
    private static Tensor Mask(int[] lengths, int length)
    {
        var mask = Tensor.Zeros(lengths.Length, length);
        var m = mask.AsSpan();
        for (int n = 0; n < lengths.Length; n++)
        {
            m.Slice(n * length, lengths[n]).Fill(1f);
        }
        return mask;
    }

    /// <summary>The valid positions of x as rows of a (M, C) array, sample by sample, step by step.</summary>
    private static float[] Gather(float[] x, int[] lengths, int channels, int length, int axis)
    {
        var rows = new List<float>();
        for (int n = 0; n < lengths.Length; n++)
        {
            for (int l = 0; l < lengths[n]; l++)
            {
                for (int c = 0; c < channels; c++)
                {
                    rows.Add(x[Index(n, c, l, channels, length, axis)]);
                }
            }
        }
        return [.. rows];
    }

    private static BatchNorm1d Layer(int channels, int axis, int seed)
    {
        var bn = new BatchNorm1d(channels, channelAxis: axis);
        var g = new Generator(seed);
        g.FillNormal(bn.Weight!.AsSpan(), 1, 0.5);
        g.FillNormal(bn.Bias!.AsSpan());
        g.FillNormal(bn.RunningMean!.AsSpan());
        g.FillUniform(bn.RunningVar!.AsSpan(), 0.5, 2);
        return bn;
    }

    private static BatchNorm1d CopyOf(BatchNorm1d source)
    {
        var copy = new BatchNorm1d(source.NumFeatures);
        source.Weight!.AsSpan().CopyTo(copy.Weight!.AsSpan());
        source.Bias!.AsSpan().CopyTo(copy.Bias!.AsSpan());
        source.RunningMean!.AsSpan().CopyTo(copy.RunningMean!.AsSpan());
        source.RunningVar!.AsSpan().CopyTo(copy.RunningVar!.AsSpan());
        return copy;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public void All_valid_mask_equals_BatchNorm1d(int axis)
    {
        int[] shape = Shape(3, 4, 5, axis);
        var masked = Layer(4, axis, 1);
        var plain = Layer(4, axis, 1);
        var x1 = Leaf(2, 0.5, 2, shape);
        var x2 = Leaf(2, 0.5, 2, shape);
        var upstream = Tensor.Randn(new Generator(3), shape);
        for (int step = 0; step < 3; step++)
        {
            var y1 = masked.Forward(x1, Tensor.Ones(3, 5));
            var y2 = plain.Forward(x2);
            AssertClose(y2.ToArray(), y1.ToArray(), 1e-6, "output");
            y1.Backward(upstream);
            y2.Backward(upstream);
        }
        AssertClose(x2.Grad!.ToArray(), x1.Grad!.ToArray(), 1e-5, "grad input");
        AssertClose(plain.Weight!.Grad!.ToArray(), masked.Weight!.Grad!.ToArray(), 1e-5, "grad weight");
        AssertClose(plain.Bias!.Grad!.ToArray(), masked.Bias!.Grad!.ToArray(), 1e-5, "grad bias");
        AssertClose(plain.RunningMean!.ToArray(), masked.RunningMean!.ToArray(), 1e-6, "running mean");
        AssertClose(plain.RunningVar!.ToArray(), masked.RunningVar!.ToArray(), 1e-6, "running var");
        Assert.Equal(3, masked.NumBatchesTracked);
        masked.Eval();
        plain.Eval();
        AssertClose(plain.Forward(x2).ToArray(), masked.Forward(x1, Tensor.Ones(3, 5)).ToArray(), 1e-6, "eval output");
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(-1, true)]
    [InlineData(1, false)]
    [InlineData(-1, false)]
    public void Padded_batch_equals_BatchNorm1d_over_the_valid_positions(int axis, bool training)
    {
        const int batch = 4, channels = 3, length = 6;
        int[] lengths = [6, 2, 4, 1];
        int[] shape = Shape(batch, channels, length, axis);
        var masked = Layer(channels, axis, 10);
        var gathered = CopyOf(masked);
        masked.Train(training);
        gathered.Train(training);
        // Padding holds large values: any leak into the statistics or the gradients shows.
        var x = Leaf(11, 0, 1, shape);
        var mask = Mask(lengths, length);
        var xs = x.AsSpan();
        for (int i = 0; i < xs.Length; i++)
        {
            var (n, l) = axis == 1 ? (i / (channels * length), i % length) : (i / (channels * length), i / channels % length);
            if (l >= lengths[n])
            {
                xs[i] = 1000f;
            }
        }
        var upstream = Tensor.Randn(new Generator(12), shape);
        var y = masked.Forward(x, mask);
        y.Backward(upstream);

        int valid = lengths.Sum();
        var xValid = Tensor.FromArray(Gather(x.ToArray(), lengths, channels, length, axis), valid, channels);
        xValid.RequiresGrad = true;
        var yValid = gathered.Forward(xValid);
        yValid.Backward(Tensor.FromArray(Gather(upstream.ToArray(), lengths, channels, length, axis), valid, channels));

        AssertClose(yValid.ToArray(), Gather(y.ToArray(), lengths, channels, length, axis), 1e-5, "valid outputs");
        AssertClose(xValid.Grad!.ToArray(), Gather(x.Grad!.ToArray(), lengths, channels, length, axis), 1e-5, "valid input gradients");
        AssertClose(gathered.Weight!.Grad!.ToArray(), masked.Weight!.Grad!.ToArray(), 1e-5, "grad weight");
        AssertClose(gathered.Bias!.Grad!.ToArray(), masked.Bias!.Grad!.ToArray(), 1e-5, "grad bias");
        AssertClose(gathered.RunningMean!.ToArray(), masked.RunningMean!.ToArray(), 1e-6, "running mean");
        AssertClose(gathered.RunningVar!.ToArray(), masked.RunningVar!.ToArray(), 1e-6, "running var");
        Assert.Equal(gathered.NumBatchesTracked, masked.NumBatchesTracked);
        var yAll = y.ToArray();
        var gradAll = x.Grad!.ToArray();
        for (int i = 0; i < xs.Length; i++)
        {
            if (xs[i] == 1000f)
            {
                Assert.Equal(0f, yAll[i]);
                Assert.Equal(0f, gradAll[i]);
            }
        }
    }

    public static TheoryData<int, bool, bool> GradientCases()
    {
        var data = new TheoryData<int, bool, bool>();
        foreach (int axis in new[] { 1, -1 })
        {
            foreach (bool training in new[] { true, false })
            {
                foreach (bool affine in new[] { true, false })
                {
                    data.Add(axis, training, affine);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void Gradients_match_finite_differences(int axis, bool training, bool affine)
    {
        int[] shape = Shape(3, 2, 4, axis);
        var x = Leaf(20, 0.3, 1.5, shape);
        var weight = affine ? Leaf(21, 1, 0.5, 2) : null;
        var bias = affine ? Leaf(22, 0, 1, 2) : null;
        var mask = Mask([4, 1, 3], 4);
        var runningMean = Tensor.FromArray([0.2f, -0.4f], 2);
        var runningVar = Tensor.FromArray([1.5f, 0.7f], 2);
        Tensor[] inputs = affine ? [x, weight!, bias!] : [x];
        // momentum 0: the running statistics stay put while the finite differences run the forward again.
        GradCheck.Check(
            t => F.MaskedBatchNorm(t[0], mask, runningMean, runningVar, affine ? t[1] : null, affine ? t[2] : null, training, momentum: 0, channelAxis: axis),
            inputs, seed: 23);
    }

    [Fact]
    public void Large_offset_with_small_spread_still_normalizes()
    {
        var x = Tensor.FromArray(RandomFloats(30, 2 * 3 * 5, mean: 1e4, std: 1e-2), 2, 3, 5);
        var mask = Mask([5, 3], 5);
        var y = F.MaskedBatchNorm(x, mask, null, null, training: true, eps: 0).ToArray();
        for (int c = 0; c < 3; c++)
        {
            var values = new List<double>();
            for (int n = 0; n < 2; n++)
            {
                for (int l = 0; l < (n == 0 ? 5 : 3); l++)
                {
                    values.Add(y[(n * 3 + c) * 5 + l]);
                }
            }
            double mean = values.Average();
            double variance = values.Sum(v => (v - mean) * (v - mean)) / values.Count;
            Assert.True(Math.Abs(mean) < 1e-3 && Math.Abs(variance - 1) < 1e-2, $"channel {c}: mean {mean}, variance {variance}");
        }
    }

    [Fact]
    public void One_valid_position_in_training_throws_like_BatchNorm_and_is_not_counted()
    {
        var bn = new BatchNorm1d(2);
        var mask = Mask([1, 0], 3);
        var error = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Ones(2, 2, 3), mask));
        Assert.Contains("more than 1 valid value per channel", error.Message, StringComparison.Ordinal);
        Assert.Contains("[2, 2, 3]", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, bn.NumBatchesTracked);
        bn.Eval();
        Assert.Equal(new[] { 2, 2, 3 }, bn.Forward(Tensor.Ones(2, 2, 3), mask).Shape);
    }

    [Fact]
    public void Frozen_statistics_normalize_a_training_forward_with_the_running_statistics_and_stay_put()
    {
        var bn = Layer(3, axis: 1, seed: 21);
        var mean = bn.RunningMean!.ToArray();
        var variance = bn.RunningVar!.ToArray();
        var x = Tensor.Randn(new Generator(22), 4, 3, 5);
        var mask = Mask([5, 2, 4, 1], 5);
        bn.Eval();
        var expected = bn.Forward(x, mask).ToArray();
        bn.Train();
        bn.FreezeStatistics = true;
        Assert.Equal(expected, bn.Forward(x, mask).ToArray());
        Assert.Equal(mean, bn.RunningMean!.ToArray());
        Assert.Equal(variance, bn.RunningVar!.ToArray());
        Assert.Equal(0, bn.NumBatchesTracked);
    }

    [Fact]
    public void Bad_input_throws_naming_the_shapes()
    {
        var bn = new BatchNorm1d(3);
        var maskError = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Ones(2, 3, 4), Tensor.Ones(2, 5)));
        Assert.Contains("[2, 4]", maskError.Message, StringComparison.Ordinal);
        Assert.Contains("[2, 5]", maskError.Message, StringComparison.Ordinal);
        var lastError = Assert.Throws<ArgumentException>(() => new BatchNorm1d(3, channelAxis: -1).Forward(Tensor.Ones(2, 4, 3), Tensor.Ones(2, 3)));
        Assert.Contains("[2, 4]", lastError.Message, StringComparison.Ordinal);
        var rankError = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Ones(2, 3), Tensor.Ones(2, 1)));
        Assert.Contains("[2, 3]", rankError.Message, StringComparison.Ordinal);
        var channelError = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Ones(2, 5, 4), Tensor.Ones(2, 4)));
        Assert.Contains("3 channels", channelError.Message, StringComparison.Ordinal);
        var valueError = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Ones(2, 3, 4), Tensor.Full(0.5f, 2, 4)));
        Assert.Contains("0.5", valueError.Message, StringComparison.Ordinal);
        Assert.Equal(0, bn.NumBatchesTracked);
    }
}
