using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>
/// The fast row-norm kernels against the reference path: LayerNorm and RMSNorm (parameters per element of a row)
/// against NormalizationReference's Moments, Normalize, ScaleShift and their backwards, every row length 0..257 for
/// every vector width, odd and threaded shapes, and a row with mean 1e4 and standard deviation 1e-2; GroupNorm and
/// InstanceNorm (parameters per channel over runs of spatial elements) against RowNormReference.
/// </summary>
public class RowNormFastTests
{
    public static TheoryData<int> Widths => BatchNormFastTests.Widths;

    [Theory]
    [MemberData(nameof(Widths))]
    public void Every_row_length_0_to_257_matches_reference(int widthIndex)
    {
        var width = (SimdWidth)widthIndex;
        for (int length = 0; length <= 257; length++)
        {
            Compare(rows: 3, length, width, meanSquare: length % 2 == 0, affine: length % 3 != 0, seed: length);
        }
    }

    [Theory]
    [InlineData(5000, 7)]      // threaded, short rows
    [InlineData(3, 4500)]      // rows longer than one chunk
    [InlineData(300, 768)]     // LayerNorm-sized rows, threaded, more than FlushRows rows per part
    [InlineData(1, 1)]
    public void Odd_and_threaded_shapes_match_reference(int rows, int rowLength)
    {
        foreach (var width in new[] { SimdWidth.Scalar, SimdWidth.Vector256, SimdWidth.Vector512 })
        {
            if (Simd.IsSupported(width))
            {
                Compare(rows, rowLength, width, meanSquare: false, affine: true, seed: rows + rowLength);
                Compare(rows, rowLength, width, meanSquare: true, affine: true, seed: rows * rowLength);
                Compare(rows, rowLength, width, meanSquare: false, affine: false, seed: 3);
            }
        }
    }

    [Fact]
    public void Offset_1e4_row_still_normalizes()
    {
        Compare(rows: 4, rowLength: 300, SimdWidth.Auto, meanSquare: false, affine: true, seed: 9, offset: 1e4, std: 1e-2);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Per_channel_parameters_match_the_reference(int widthIndex)
    {
        var width = (SimdWidth)widthIndex;
        // (batch, channels, groups, spatial): groups == channels is InstanceNorm; spatial 1 (one element a channel) takes
        // the per-element loops with each row's slice of the parameters, over more than FlushRows rows a part at 300.
        foreach (var (batch, channels, groups, spatial) in new[]
        {
            (2, 6, 3, 5), (3, 4, 4, 1), (300, 64, 4, 1), (2, 8, 2, 37), (1, 6, 1, 20), (4, 32, 8, 49), (2, 3, 3, 257), (64, 16, 4, 9), (2, 5, 5, 16),
        })
        {
            for (int parameters = 0; parameters < 4; parameters++)
            {
                CompareChannels(batch, channels, groups, spatial, width, withWeight: (parameters & 1) == 0, withBias: (parameters & 2) == 0,
                    seed: batch * 1000 + channels * 10 + parameters);
            }
        }
    }

    [Fact]
    public void Per_channel_parameters_with_offset_1e4_still_normalize() =>
        CompareChannels(2, 6, 2, 40, SimdWidth.Auto, withWeight: true, withBias: true, seed: 5, offset: 1e4, std: 1e-2);

    // GroupNorm's view: rows (n, g) of channels/groups channels, each a run of `spatial` elements with its own weight and bias.
    private static void CompareChannels(int batch, int channels, int groups, int spatial, SimdWidth width, bool withWeight, bool withBias,
        int seed, double offset = 0.3, double std = 1.5)
    {
        string what = $"[{batch}, {channels}, {spatial}] in {groups} groups, {width}, weight={withWeight} bias={withBias}";
        int rows = batch * groups, rowLength = channels / groups * spatial, count = rows * rowLength;
        var (x, dy, weight, bias) = Inputs(seed, count, withWeight ? channels : 0, withBias ? channels : 0, offset, std);
        const double eps = 1e-5;

        double[] meanFast = new double[rows], varianceFast = new double[rows], invFast = new double[rows];
        var yFast = new float[count];
        RowNormFast.Forward(x, rows, rowLength, channels, spatial, weight, bias, eps, meanSquare: false, meanFast, varianceFast, invFast, yFast, width);
        double[] meanRef = new double[rows], varianceRef = new double[rows], invRef = new double[rows];
        var yRef = new float[count];
        RowNormReference.Forward<float>(x, rows, rowLength, batch, channels, spatial, weight, bias, eps, NormStatistics.MeanAndVariance,
            meanRef, varianceRef, invRef, yRef);
        Close(meanRef, meanFast, 1e-6 * (1 + Math.Abs(offset)), what + " mean");
        Close(invRef, invFast, 1e-5 * (1 + invRef.DefaultIfEmpty().Max()), what + " invStd");
        Close(yRef, yFast, 1e-4, what + " y");

        var dxFast = new float[count];
        float[] dwFast = new float[weight.Length], dbFast = new float[bias.Length];
        RowNormFast.Backward(x, dy, rows, rowLength, channels, spatial, weight, meanFast, invFast, meanSquare: false, dxFast, dwFast, dbFast, width);
        var dxRef = new float[count];
        float[] dwRef = new float[weight.Length], dbRef = new float[bias.Length];
        RowNormReference.Backward<float>(x, dy, rows, rowLength, batch, channels, spatial, weight, meanRef, invRef, NormStatistics.MeanAndVariance,
            dxRef, dwRef, dbRef);
        Close(dxRef, dxFast, 2e-4, what + " gradInput");
        Close(dwRef, dwFast, 1e-4 * Math.Sqrt(batch * spatial), what + " gradWeight");
        Close(dbRef, dbFast, 1e-4 * Math.Sqrt(batch * spatial), what + " gradBias");
    }

    [Fact]
    public void An_affine_view_that_splits_a_channel_between_rows_is_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() => RowNormFast.Forward(new float[24], 4, 6, 2, 4, new float[2], default, 1e-5, false,
            new double[4], new double[4], new double[4], new float[24]));
        Assert.Contains("channels 2, inner 4", ex.Message, StringComparison.Ordinal);
    }

    private static void Compare(int rows, int rowLength, SimdWidth width, bool meanSquare, bool affine, int seed,
        double offset = 0.3, double std = 1.5)
    {
        string what = $"[{rows}, {rowLength}] {width} meanSquare={meanSquare} affine={affine}";
        int count = rows * rowLength;
        var (x, dy, weight, bias) = Inputs(seed, count, affine ? rowLength : 0, affine ? rowLength : 0, offset, std);
        const double eps = 1e-5;

        // fast
        double[] meanFast = new double[rows], varianceFast = new double[rows], invFast = new double[rows];
        var yFast = new float[count];
        RowNormFast.Forward(x, rows, rowLength, rowLength, 1, weight, bias, eps, meanSquare, meanFast, varianceFast, invFast, yFast, width);

        // reference, as RowNormFunction composes it
        double[] meanRef = new double[rows], varianceRef = new double[rows], invRef = new double[rows];
        NormalizationReference.Moments<float>(x, 1, rows, rowLength, meanRef, varianceRef);
        if (meanSquare)
        {
            for (int r = 0; r < rows; r++)
            {
                varianceRef[r] += meanRef[r] * meanRef[r];
                meanRef[r] = 0;
            }
        }
        NormalizationReference.InvStd(varianceRef, eps, invRef);
        var yRef = new float[count];
        NormalizationReference.Normalize<float>(x, 1, rows, rowLength, meanRef, invRef, default, default, yRef);
        var normalizedRef = (float[])yRef.Clone();
        if (affine)
        {
            NormalizationReference.ScaleShift<float>(yRef, rows, rowLength, 1, weight, bias, yRef);
        }
        Close(meanRef, meanFast, 1e-6 * (1 + Math.Abs(offset)), what + " mean");
        Close(invRef, invFast, 1e-5 * (1 + invRef.DefaultIfEmpty().Max()), what + " invStd");
        Close(yRef, yFast, 1e-4, what + " y");

        // backward
        var dxFast = new float[count];
        float[] dwFast = new float[weight.Length], dbFast = new float[bias.Length];
        RowNormFast.Backward(x, dy, rows, rowLength, rowLength, 1, weight, meanFast, invFast, meanSquare, dxFast, dwFast, dbFast, width);
        var scaled = new float[count];
        float[] dwRef = new float[weight.Length], dbRef = new float[bias.Length];
        NormalizationReference.ScaleShiftBackward<float>(dy, normalizedRef, rows, rowLength, 1, weight, scaled, dwRef, dbRef);
        var dxRef = new float[count];
        NormalizationReference.NormalizeBackward<float>(x, affine ? scaled : dy, 1, rows, rowLength, meanRef, invRef, default,
            meanSquare ? NormStatistics.MeanSquare : NormStatistics.MeanAndVariance, dxRef, default, default);
        Close(dxRef, dxFast, 2e-4, what + " gradInput");
        Close(dwRef, dwFast, 1e-4 * Math.Sqrt(Math.Max(1, rows)), what + " gradWeight");
        Close(dbRef, dbFast, 1e-4 * Math.Sqrt(Math.Max(1, rows)), what + " gradBias");
    }

    // x ~ N(offset, std²), dy ~ N(0, 1), weight ~ N(1, 0.25), bias ~ N(0, 0.25).
    private static (float[] X, float[] Dy, float[] Weight, float[] Bias) Inputs(int seed, int count, int weights, int biases, double offset, double std)
    {
        var g = new Generator(seed);
        var x = new float[count];
        g.FillNormal(x, offset, std);
        var dy = new float[count];
        g.FillNormal(dy);
        var weight = new float[weights];
        var bias = new float[biases];
        g.FillNormal(weight, 1, 0.5);
        g.FillNormal(bias, 0, 0.5);
        return (x, dy, weight, bias);
    }

    private static void Close(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])),
                $"{what} at {i}: reference {expected[i]:G9}, fast {actual[i]:G9}");
        }
    }

    private static void Close(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])),
                $"{what} at {i}: reference {expected[i]:G12}, fast {actual[i]:G12}");
        }
    }
}
