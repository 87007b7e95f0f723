using NormSharp.Functional;
using NormSharp.Kernels;
using NormSharp.Nn;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

/// <summary>
/// Finite inputs near float's maximum: the statistics of every normalization path must stay finite (issue 18:
/// BatchNorm2d on uniform ±1e38 gave NaN where libtorch stays finite). A float square overflows from |x| ≈ 1.8e19 and
/// a float sum of a 2048-element chunk from about 1.7e35, so the fast kernels fall back to double for such chunks.
/// Expected values come from the naive double formulas of <see cref="NormTestUtil"/>.
/// </summary>
public class NormalizationOverflowTests
{
    public static TheoryData<double> Magnitudes => new() { 1e20, 1e38, 3.4e38 };

    [Theory]
    [MemberData(nameof(Magnitudes))]
    public void BatchNorm2d_normalizes_finite_inputs_near_float_max_in_both_layouts(double magnitude)
    {
        foreach (int channelAxis in new[] { 1, -1 })
        {
            int[] shape = channelAxis == 1 ? [64, 3, 16, 16] : [64, 16, 16, 3];
            int axis = channelAxis == 1 ? 1 : 3;
            var x = Uniform(17, 64 * 3 * 16 * 16, magnitude);
            var bn = new BatchNorm2d(3, channelAxis: channelAxis);
            var y = bn.Forward(Tensor.FromArray(x, shape)).ToArray();
            var (mean, variance, _) = ChannelStatistics(x, shape, axis);
            AssertClose(NaiveBatchNorm(x, shape, axis, mean, variance, null, null, 1e-5), y, 1e-5, $"BatchNorm2d ±{magnitude:G3} axis {channelAxis}");
            Assert.All(bn.RunningMean!.ToArray(), value => Assert.True(float.IsFinite(value), $"running mean {value}"));
        }
    }

    [Theory]
    [MemberData(nameof(Magnitudes))]
    public void Fast_batch_norm_matches_reference_near_float_max_at_every_width(double magnitude)
    {
        // channels first with short runs (rows merged into one chunk), long runs (several chunks), channels last
        (int Outer, int Channels, int Inner)[] views = [(64, 3, 256), (2, 2, 5000), (3000, 5, 1), (40, 33, 1)];
        foreach (var width in new[] { SimdWidth.Scalar, SimdWidth.Vector256, SimdWidth.Vector512 }.Where(Simd.IsSupported))
        {
            foreach (var (outer, channels, inner) in views)
            {
                var x = Uniform(outer + channels, outer * channels * inner, magnitude);
                var expected = new float[x.Length];
                var actual = new float[x.Length];
                double[] referenceMean = new double[channels], referenceInvStd = new double[channels];
                double[] mean = new double[channels], invStd = new double[channels];
                BatchNormReference.ForwardTraining<float>(x, outer, channels, inner, default, default, 1e-5, 0.1, default, default,
                    referenceMean, referenceInvStd, expected);
                BatchNormFast.ForwardTraining(x, outer, channels, inner, default, default, 1e-5, 0.1, default, default, mean, invStd, actual,
                    width: width);
                string what = $"[{outer}, {channels}, {inner}] ±{magnitude:G3} {width}";
                for (int c = 0; c < channels; c++)
                {
                    Assert.True(Math.Abs(mean[c] - referenceMean[c]) <= 1e-6 * magnitude, $"{what}: channel {c} mean {mean[c]} vs {referenceMean[c]}");
                    Assert.True(Math.Abs(invStd[c] / referenceInvStd[c] - 1) < 1e-6, $"{what}: channel {c} invStd {invStd[c]} vs {referenceInvStd[c]}");
                }
                AssertClose(expected, actual, 1e-5, what + " output");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Magnitudes))]
    public void Row_norms_normalize_finite_inputs_near_float_max(double magnitude)
    {
        // LayerNorm and RMSNorm run the fast row kernels (rows of 3000: two chunks); GroupNorm and InstanceNorm the reference.
        var x = Uniform(23, 4 * 6 * 500, magnitude);
        var input = Tensor.FromArray(x, 4, 6, 500);
        AssertClose(NaiveRows(x, 3000, 1e-5), F.LayerNorm(input, [6, 500]).ToArray(), 1e-5, "LayerNorm");
        AssertClose(NaiveRows(x, 3000, 1e-6, rms: true), F.RmsNorm(input, [6, 500], eps: 1e-6).ToArray(), 1e-5, "RMSNorm");
        AssertClose(NaiveRows(x, 1500, 1e-5), F.GroupNorm(input, 2).ToArray(), 1e-5, "GroupNorm");
        AssertClose(NaiveRows(x, 500, 1e-5), F.InstanceNorm(input).ToArray(), 1e-5, "InstanceNorm");
    }

    // count values uniform in [−magnitude, magnitude), rounded to float (3.4e38 stays below float.MaxValue).
    private static float[] Uniform(int seed, int count, double magnitude)
    {
        var x = new float[count];
        new Generator(seed).FillUniform(x, -magnitude, magnitude);
        Assert.All(x, value => Assert.True(float.IsFinite(value)));
        return x;
    }
}
