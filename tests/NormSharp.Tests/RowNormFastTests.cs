using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>
/// The fast row-norm kernels (LayerNorm, RMSNorm) against the reference path (NormalizationReference: Moments,
/// Normalize, ScaleShift and their backwards, in double): every row length 0..257 for every vector width, odd and
/// threaded shapes, and a row with mean 1e4 and standard deviation 1e-2.
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

    private static void Compare(int rows, int rowLength, SimdWidth width, bool meanSquare, bool affine, int seed,
        double offset = 0.3, double std = 1.5)
    {
        string what = $"[{rows}, {rowLength}] {width} meanSquare={meanSquare} affine={affine}";
        int count = rows * rowLength;
        var g = new Generator(seed);
        var x = new float[count];
        g.FillNormal(x, offset, std);
        var dy = new float[count];
        g.FillNormal(dy);
        var weight = new float[affine ? rowLength : 0];
        var bias = new float[affine ? rowLength : 0];
        g.FillNormal(weight, 1, 0.5);
        g.FillNormal(bias, 0, 0.5);
        const double eps = 1e-5;

        // fast
        double[] meanFast = new double[rows], varianceFast = new double[rows], invFast = new double[rows];
        var yFast = new float[count];
        RowNormFast.Forward(x, rows, rowLength, weight, bias, eps, meanSquare, meanFast, varianceFast, invFast, yFast, width);

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
        RowNormFast.Backward(x, dy, rows, rowLength, weight, meanFast, invFast, meanSquare, dxFast, dwFast, dbFast, width);
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
