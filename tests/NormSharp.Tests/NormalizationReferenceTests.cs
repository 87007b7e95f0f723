using NormSharp.Kernels;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

/// <summary>
/// The shared reference kernels, run in double: statistics against a naive computation and the closed-form
/// backward against central differences of the double forward (a true double-precision gradient check).
/// </summary>
public class NormalizationReferenceTests
{
    public static TheoryData<int, int, int> Views => new()
    {
        { 1, 1, 2 }, { 2, 1, 1 }, { 2, 3, 1 }, { 1, 3, 5 }, { 3, 2, 4 }, { 4, 5, 3 }, { 2, 1, 17 },
    };

    [Theory]
    [MemberData(nameof(Views))]
    public void Moments_match_naive_mean_and_biased_variance(int outer, int channels, int inner)
    {
        var x = RandomFloats(outer * 100 + channels * 10 + inner, outer * channels * inner, mean: 3, std: 2);
        var mean = new double[channels];
        var variance = new double[channels];
        NormalizationReference.Moments<float>(x, outer, channels, inner, mean, variance);
        var (expectedMean, expectedVariance, _) = ChannelStatistics(x, [outer, channels, inner], 1);
        for (int c = 0; c < channels; c++)
        {
            Assert.Equal(expectedMean[c], mean[c], 12);
            Assert.Equal(expectedVariance[c], variance[c], 12);
        }
    }

    [Fact]
    public void Moments_survive_an_offset_of_1e4_with_std_1e_2()
    {
        // In float, E[x²] − E[x]² at mean 1e4 loses everything below 1e8 · 6e-8 ≈ 6: the variance 1e-4 vanishes.
        var x = RandomFloats(5, 1000, mean: 1e4, std: 1e-2);
        var mean = new double[1];
        var variance = new double[1];
        NormalizationReference.Moments<float>(x, 1, 1, x.Length, mean, variance);
        var (expectedMean, expectedVariance, _) = ChannelStatistics(x, [1, x.Length], 0);
        Assert.Equal(expectedMean[0], mean[0], 9);
        Assert.True(Math.Abs(variance[0] - expectedVariance[0]) <= 1e-9 * expectedVariance[0],
            $"variance {variance[0]:G12} vs {expectedVariance[0]:G12}");
        Assert.InRange(variance[0], 0.5e-4, 2e-4);
    }

    [Fact]
    public void Moments_of_a_constant_channel_are_exact_and_the_variance_is_not_negative()
    {
        var x = Enumerable.Repeat(0.1f, 37).ToArray();
        var mean = new double[1];
        var variance = new double[1];
        NormalizationReference.Moments<float>(x, 1, 1, x.Length, mean, variance);
        Assert.Equal((double)0.1f, mean[0]);
        Assert.Equal(0.0, variance[0]);
    }

    [Fact]
    public void Moments_of_empty_channels_are_zero()
    {
        var mean = new double[] { 5, 5 };
        var variance = new double[] { 5, 5 };
        NormalizationReference.Moments<float>([], 0, 2, 3, mean, variance);
        Assert.Equal([0.0, 0.0], mean);
        Assert.Equal([0.0, 0.0], variance);
    }

    [Fact]
    public void A_view_that_does_not_fit_throws_naming_both_sizes()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            NormalizationReference.Moments<float>(new float[10], 2, 3, 2, new double[3], new double[3]));
        Assert.Contains("10", ex.Message, StringComparison.Ordinal);
        Assert.Contains("12", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Views))]
    public void Normalize_backward_with_batch_statistics_matches_finite_differences_in_double(int outer, int channels, int inner)
    {
        CheckNormalizeBackward(outer, channels, inner, NormStatistics.MeanAndVariance, affine: true);
        CheckNormalizeBackward(outer, channels, inner, NormStatistics.MeanAndVariance, affine: false);
    }

    [Theory]
    [MemberData(nameof(Views))]
    public void Normalize_backward_with_mean_square_matches_finite_differences_in_double(int outer, int channels, int inner)
    {
        CheckNormalizeBackward(outer, channels, inner, NormStatistics.MeanSquare, affine: true);
        CheckNormalizeBackward(outer, channels, inner, NormStatistics.MeanSquare, affine: false);
    }

    [Theory]
    [MemberData(nameof(Views))]
    public void Normalize_backward_with_constant_statistics_matches_finite_differences_in_double(int outer, int channels, int inner)
    {
        CheckNormalizeBackward(outer, channels, inner, NormStatistics.Constant, affine: true);
        CheckNormalizeBackward(outer, channels, inner, NormStatistics.Constant, affine: false);
    }

    /// <summary>
    /// Forward in double: statistics from the input (or fixed ones for Constant), then Normalize; backward:
    /// NormalizeBackward. Checks dx, dweight and dbias against central differences of that forward.
    /// </summary>
    private static void CheckNormalizeBackward(int outer, int channels, int inner, NormStatistics statistics, bool affine)
    {
        int n = outer * channels * inner;
        int seed = outer * 1000 + channels * 100 + inner * 10 + (int)statistics;
        var x = RandomDoubles(seed, n, mean: 0.5, std: 1.5);
        var weight = affine ? RandomDoubles(seed + 1, channels, mean: 1, std: 0.5) : [];
        var bias = affine ? RandomDoubles(seed + 2, channels) : [];
        var upstream = RandomDoubles(seed + 3, n);
        var fixedMean = RandomDoubles(seed + 4, channels);
        var fixedInvStd = RandomDoubles(seed + 5, channels).Select(v => 0.5 + Math.Abs(v)).ToArray();
        const double eps = 1e-3;

        (double[] Mean, double[] InvStd) Statistics(double[] input)
        {
            if (statistics == NormStatistics.Constant)
            {
                return (fixedMean, fixedInvStd);
            }
            var mean = new double[channels];
            var variance = new double[channels];
            NormalizationReference.Moments<double>(input, outer, channels, inner, mean, variance);
            if (statistics == NormStatistics.MeanSquare)
            {
                for (int c = 0; c < channels; c++)
                {
                    variance[c] += mean[c] * mean[c];
                    mean[c] = 0;
                }
            }
            var invStd = new double[channels];
            NormalizationReference.InvStd(variance, eps, invStd);
            return (mean, invStd);
        }

        double[] Forward(double[] input, double[] w, double[] b)
        {
            var (mean, invStd) = Statistics(input);
            var y = new double[n];
            NormalizationReference.Normalize<double>(input, outer, channels, inner, mean, invStd, w, b, y);
            return y;
        }

        var (m, s) = Statistics(x);
        var gradInput = new double[n];
        var gradWeight = new double[channels];
        var gradBias = new double[channels];
        NormalizationReference.NormalizeBackward<double>(x, upstream, outer, channels, inner, m, s, weight, statistics, gradInput, gradWeight, gradBias);

        string what = $"{statistics}, affine {affine}, view [{outer}, {channels}, {inner}]";
        CheckDoubleGradient(v => Forward(v, weight, bias), x, upstream, gradInput, what + ", gradInput");
        if (affine)
        {
            CheckDoubleGradient(v => Forward(x, v, bias), weight, upstream, gradWeight, what + ", gradWeight");
            CheckDoubleGradient(v => Forward(x, weight, v), bias, upstream, gradBias, what + ", gradBias");
        }
    }

    [Fact]
    public void Normalize_backward_skips_empty_destinations_and_fills_the_others_identically()
    {
        const int outer = 3, channels = 2, inner = 4;
        int n = outer * channels * inner;
        var x = RandomDoubles(1, n);
        var dy = RandomDoubles(2, n);
        var w = RandomDoubles(3, channels);
        double[] mean = [0.1, -0.2], invStd = [1.5, 0.7];
        var fullInput = new double[n];
        var fullWeight = new double[channels];
        var fullBias = new double[channels];
        NormalizationReference.NormalizeBackward<double>(x, dy, outer, channels, inner, mean, invStd, w, NormStatistics.MeanAndVariance, fullInput, fullWeight, fullBias);

        var onlyWeight = new double[channels];
        NormalizationReference.NormalizeBackward<double>(x, dy, outer, channels, inner, mean, invStd, w, NormStatistics.MeanAndVariance, default, onlyWeight, default);
        Assert.Equal(fullWeight, onlyWeight);

        var onlyInput = new double[n];
        NormalizationReference.NormalizeBackward<double>(x, dy, outer, channels, inner, mean, invStd, w, NormStatistics.MeanAndVariance, onlyInput, default, default);
        Assert.Equal(fullInput, onlyInput);
    }

    [Fact]
    public void Scale_shift_backward_matches_finite_differences_in_double()
    {
        const int outer = 3, channels = 4, inner = 2;
        int n = outer * channels * inner;
        var xhat = RandomDoubles(11, n);
        var w = RandomDoubles(12, channels);
        var b = RandomDoubles(13, channels);
        var dy = RandomDoubles(14, n);
        double[] Forward(double[] source, double[] weight, double[] bias)
        {
            var y = new double[n];
            NormalizationReference.ScaleShift<double>(source, outer, channels, inner, weight, bias, y);
            return y;
        }
        var gradSource = new double[n];
        var gradWeight = new double[channels];
        var gradBias = new double[channels];
        NormalizationReference.ScaleShiftBackward<double>(dy, xhat, outer, channels, inner, w, gradSource, gradWeight, gradBias);
        CheckDoubleGradient(v => Forward(v, w, b), xhat, dy, gradSource, "gradNormalized");
        CheckDoubleGradient(v => Forward(xhat, v, b), w, dy, gradWeight, "gradWeight");
        CheckDoubleGradient(v => Forward(xhat, w, v), b, dy, gradBias, "gradBias");
    }

    [Fact]
    public void Normalize_in_place_equals_normalize_to_a_new_buffer()
    {
        var x = RandomFloats(21, 24);
        double[] mean = [0.3, -0.1, 0.2], invStd = [1.1, 0.9, 2.0];
        float[] w = [1.5f, -0.5f, 2f], b = [0.1f, 0.2f, 0.3f];
        var separate = new float[24];
        NormalizationReference.Normalize<float>(x, 2, 3, 4, mean, invStd, w, b, separate);
        NormalizationReference.Normalize<float>(x, 2, 3, 4, mean, invStd, w, b, x);
        Assert.Equal(separate, x);
    }
}
