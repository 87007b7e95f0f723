using NormSharp.Kernels;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

/// <summary>
/// The batch-norm reference kernels: forward against a naive computation, the running-statistics rule,
/// and the fused closed-form backward against central differences of the double forward in training
/// and evaluation mode, including the smallest shapes (two values per channel).
/// </summary>
public class BatchNormReferenceTests
{
    [Fact]
    public void Hand_computed_two_value_batch()
    {
        // x = [[1], [3]]: mean 2, biased variance 1, unbiased variance 2.
        float[] x = [1, 3];
        var mean = new double[1];
        var invStd = new double[1];
        var output = new float[2];
        float[] runningMean = [0], runningVar = [1];
        BatchNormReference.ForwardTraining<float>(x, 2, 1, 1, default, default, 1e-5, 0.1, runningMean, runningVar, mean, invStd, output);
        Assert.Equal(2.0, mean[0]);
        Assert.Equal(1 / Math.Sqrt(1 + 1e-5), invStd[0], 15);
        Assert.Equal((float)(-1 / Math.Sqrt(1 + 1e-5)), output[0]);
        Assert.Equal((float)(1 / Math.Sqrt(1 + 1e-5)), output[1]);
        Assert.Equal(0.2f, runningMean[0]);            // 0.9 · 0 + 0.1 · 2
        Assert.Equal(1.1f, runningVar[0]);             // 0.9 · 1 + 0.1 · 2 (unbiased)
    }

    [Theory]
    [InlineData(2, 3, 1)]
    [InlineData(4, 2, 5)]
    [InlineData(7, 1, 3)]
    public void Training_forward_matches_the_naive_formula(int outer, int channels, int inner)
    {
        int n = outer * channels * inner;
        var x = RandomFloats(n, n, mean: -2, std: 3);
        var w = RandomFloats(n + 1, channels);
        var b = RandomFloats(n + 2, channels);
        var mean = new double[channels];
        var invStd = new double[channels];
        var output = new float[n];
        BatchNormReference.ForwardTraining<float>(x, outer, channels, inner, w, b, 1e-5, 0.1, default, default, mean, invStd, output);
        int[] shape = [outer, channels, inner];
        var (m, v, _) = ChannelStatistics(x, shape, 1);
        AssertClose(NaiveBatchNorm(x, shape, 1, m, v, w, b, 1e-5), output, 1e-6, "output");
    }

    [Fact]
    public void Running_statistics_use_the_unbiased_variance_and_momentum_on_the_new_value()
    {
        double[] mean = [1.5, -2];
        double[] variance = [4, 0.5];
        float[] runningMean = [0.25f, 1f], runningVar = [2f, 3f];
        RunningStatistics.Update<float>(mean, variance, 5, 0.3, runningMean, runningVar);
        Assert.Equal((float)(0.7 * 0.25 + 0.3 * 1.5), runningMean[0]);
        Assert.Equal((float)(0.7 * 1 + 0.3 * -2), runningMean[1]);
        Assert.Equal((float)(0.7 * 2 + 0.3 * 4 * 5 / 4), runningVar[0]);
        Assert.Equal((float)(0.7 * 3 + 0.3 * 0.5 * 5 / 4), runningVar[1]);
    }

    [Fact]
    public void Empty_input_leaves_running_statistics_alone()
    {
        float[] runningMean = [0.5f], runningVar = [2f];
        BatchNormReference.ForwardTraining<float>([], 0, 1, 4, default, default, 1e-5, 0.1, runningMean, runningVar, new double[1], new double[1], []);
        Assert.Equal(0.5f, runningMean[0]);
        Assert.Equal(2f, runningVar[0]);
    }

    [Fact]
    public void Inference_uses_the_running_statistics()
    {
        float[] x = [1, 2, 3, 4];
        float[] rm = [1, 2], rv = [4, 0.25f], w = [2, 1], b = [0, 1];
        var output = new float[4];
        BatchNormReference.ForwardInference<float>(x, 2, 2, 1, w, b, rm, rv, 0, new double[2], new double[2], output);
        // channel 0: (x − 1) / 2 · 2; channel 1: (x − 2) / 0.5 + 1
        Assert.Equal([0f, 1f, 2f, 5f], output);
    }

    public static TheoryData<int, int, int, bool, bool> BackwardCases => new()
    {
        { 2, 1, 1, true, true },    // N = 2, spatial 1: the smallest batch training accepts
        { 2, 3, 1, true, false },
        { 1, 2, 2, true, true },    // channels first, N = 1, two spatial values
        { 3, 2, 4, true, true },
        { 3, 2, 4, false, true },
        { 6, 3, 1, true, true },    // channels last: inner = 1
        { 6, 3, 1, false, false },
        { 2, 1, 1, false, true },
    };

    [Theory]
    [MemberData(nameof(BackwardCases))]
    public void Backward_matches_finite_differences_in_double(int outer, int channels, int inner, bool training, bool affine)
    {
        int n = outer * channels * inner;
        int seed = outer * 100 + channels * 10 + inner + (training ? 1000 : 0);
        var x = RandomDoubles(seed, n, mean: 1, std: 2);
        var w = affine ? RandomDoubles(seed + 1, channels, mean: 1, std: 0.5) : [];
        var b = affine ? RandomDoubles(seed + 2, channels) : [];
        var runningMean = RandomDoubles(seed + 3, channels);
        var runningVar = RandomDoubles(seed + 4, channels).Select(v => 0.5 + v * v).ToArray();
        var upstream = RandomDoubles(seed + 5, n);
        const double eps = 1e-5;

        double[] Forward(double[] input, double[] weight, double[] bias, double[] mean, double[] invStd)
        {
            var y = new double[n];
            if (training)
            {
                BatchNormReference.ForwardTraining<double>(input, outer, channels, inner, weight, bias, eps, 0.1, default, default, mean, invStd, y);
            }
            else
            {
                BatchNormReference.ForwardInference<double>(input, outer, channels, inner, weight, bias, runningMean, runningVar, eps, mean, invStd, y);
            }
            return y;
        }
        double[] ForwardOnly(double[] input, double[] weight, double[] bias) => Forward(input, weight, bias, new double[channels], new double[channels]);

        var savedMean = new double[channels];
        var savedInvStd = new double[channels];
        Forward(x, w, b, savedMean, savedInvStd);
        var gradInput = new double[n];
        var gradWeight = new double[channels];
        var gradBias = new double[channels];
        BatchNormReference.Backward<double>(x, upstream, outer, channels, inner, w, savedMean, savedInvStd, training, gradInput, gradWeight, gradBias);

        string what = $"view [{outer}, {channels}, {inner}], training {training}, affine {affine}";
        CheckDoubleGradient(v => ForwardOnly(v, w, b), x, upstream, gradInput, what + ", gradInput");
        if (affine)
        {
            CheckDoubleGradient(v => ForwardOnly(x, v, b), w, upstream, gradWeight, what + ", gradWeight");
            CheckDoubleGradient(v => ForwardOnly(x, w, v), b, upstream, gradBias, what + ", gradBias");
        }
    }

    [Fact]
    public void Training_input_gradient_is_orthogonal_to_constants_and_to_the_normalized_input()
    {
        // Property of the closed form: Σ dx = 0 and Σ dx · x̂ = 0 per channel (shifting or scaling x does not change y).
        const int outer = 5, channels = 2, inner = 3;
        int n = outer * channels * inner;
        var x = RandomDoubles(31, n, 4, 3);
        var dy = RandomDoubles(32, n);
        var mean = new double[channels];
        var invStd = new double[channels];
        BatchNormReference.ForwardTraining<double>(x, outer, channels, inner, default, default, 0, 0.1, default, default, mean, invStd, new double[n]);
        var dx = new double[n];
        BatchNormReference.Backward<double>(x, dy, outer, channels, inner, default, mean, invStd, true, dx, default, default);
        for (int c = 0; c < channels; c++)
        {
            double sum = 0, sumNormalized = 0;
            for (int o = 0; o < outer; o++)
            {
                for (int i = 0; i < inner; i++)
                {
                    int k = (o * channels + c) * inner + i;
                    sum += dx[k];
                    sumNormalized += dx[k] * (x[k] - mean[c]) * invStd[c];
                }
            }
            Assert.Equal(0, sum, 12);
            Assert.Equal(0, sumNormalized, 12);
        }
    }
}
