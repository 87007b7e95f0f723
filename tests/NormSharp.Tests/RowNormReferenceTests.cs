using NormSharp.Kernels;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

/// <summary>
/// The code path of LayerNorm, GroupNorm, InstanceNorm and RMSNorm, run in double: closed-form backward against
/// central differences of the double forward, for each layer's pair of views, with and without affine, tiny shapes included.
/// </summary>
public class RowNormReferenceTests
{
    /// <summary>rows, rowLength, affine view, RMS (mean square) or mean and variance, affine: the views each layer uses.</summary>
    public static TheoryData<string, int, int, int, int, int, bool, bool> Cases()
    {
        var data = new TheoryData<string, int, int, int, int, int, bool, bool>();
        foreach (bool affine in new[] { true, false })
        {
            data.Add("LayerNorm (3, 4) over [4]", 3, 4, 3, 4, 1, false, affine);
            data.Add("LayerNorm (2, 2) over [2]", 2, 2, 2, 2, 1, false, affine);
            data.Add("GroupNorm (2, 4, 3), G = 2", 4, 6, 2, 4, 3, false, affine);
            data.Add("GroupNorm (1, 2, 1), G = 1", 1, 2, 1, 2, 1, false, affine);
            data.Add("InstanceNorm (2, 3, 4)", 6, 4, 2, 3, 4, false, affine);
            data.Add("InstanceNorm (1, 2, 2)", 2, 2, 1, 2, 2, false, affine);
            data.Add("RMSNorm (3, 5) over [5]", 3, 5, 3, 5, 1, true, affine);
            data.Add("RMSNorm (2, 1) over [1]", 2, 1, 2, 1, 1, true, affine);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_matches_finite_differences_in_double(
        string layer, int rows, int rowLength, int affineOuter, int affineChannels, int affineInner, bool rms, bool affine)
    {
        var statistics = rms ? NormStatistics.MeanSquare : NormStatistics.MeanAndVariance;
        int n = rows * rowLength;
        int seed = n * 10 + affineChannels + (affine ? 1000 : 0);
        var x = RandomDoubles(seed, n, mean: 0.5, std: 1.5);
        var w = affine ? RandomDoubles(seed + 1, affineChannels, mean: 1, std: 0.5) : [];
        var b = affine && statistics == NormStatistics.MeanAndVariance ? RandomDoubles(seed + 2, affineChannels) : [];
        var upstream = RandomDoubles(seed + 3, n);
        const double eps = 1e-3;

        double[] Forward(double[] input, double[] weight, double[] bias)
        {
            var y = new double[n];
            RowNormReference.Forward<double>(input, rows, rowLength, affineOuter, affineChannels, affineInner, weight, bias, eps, statistics,
                new double[rows], new double[rows], new double[rows], y);
            return y;
        }

        var mean = new double[rows];
        var invStd = new double[rows];
        RowNormReference.Forward<double>(x, rows, rowLength, affineOuter, affineChannels, affineInner, w, b, eps, statistics, mean, new double[rows], invStd, new double[n]);
        var gradInput = new double[n];
        var gradWeight = new double[w.Length];
        var gradBias = new double[b.Length];
        RowNormReference.Backward<double>(x, upstream, rows, rowLength, affineOuter, affineChannels, affineInner, w, mean, invStd, statistics, gradInput, gradWeight, gradBias);

        CheckDoubleGradient(v => Forward(v, w, b), x, upstream, gradInput, layer + ", gradInput");
        if (w.Length > 0)
        {
            CheckDoubleGradient(v => Forward(x, v, b), w, upstream, gradWeight, layer + ", gradWeight");
        }
        if (b.Length > 0)
        {
            CheckDoubleGradient(v => Forward(x, w, v), b, upstream, gradBias, layer + ", gradBias");
        }
    }

    [Fact]
    public void Constant_statistics_are_refused()
    {
        Assert.Throws<ArgumentException>(() => RowNormReference.Forward<double>(
            new double[4], 2, 2, 2, 2, 1, default, default, 1e-5, NormStatistics.Constant, new double[2], new double[2], new double[2], new double[4]));
    }
}
