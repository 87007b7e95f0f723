namespace NormSharp.Tests;

/// <summary>
/// Helpers for the normalization tests: a double-precision central-difference checker for the generic
/// reference kernels, naive references written independently of the kernels (gather a channel's values
/// by index arithmetic on the full shape, then textbook formulas in double), and comparisons.
/// </summary>
internal static class NormTestUtil
{
    /// <summary>
    /// Checks <paramref name="analytic"/> = ∂L/∂x with L = Σ forward(x) · upstream by central differences in double.
    /// In double, step 1e-5 leaves truncation (~1e-10) and rounding (~1e-11) far below the tolerance.
    /// </summary>
    public static void CheckDoubleGradient(
        Func<double[], double[]> forward, double[] x, double[] upstream, double[] analytic, string what,
        double step = 1e-5, double tolerance = 1e-6)
    {
        Assert.Equal(x.Length, analytic.Length);
        for (int i = 0; i < x.Length; i++)
        {
            double original = x[i];
            x[i] = original + step;
            double plus = Dot(forward(x), upstream);
            x[i] = original - step;
            double minus = Dot(forward(x), upstream);
            x[i] = original;
            double numeric = (plus - minus) / (2 * step);
            double error = Math.Abs(analytic[i] - numeric) / Math.Max(1, Math.Abs(numeric));
            Assert.True(error <= tolerance,
                $"{what}: element {i}: closed form {analytic[i]:G10}, finite differences {numeric:G10}, error {error:G3} > {tolerance:G3}");
        }
    }

    public static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }
        return sum;
    }

    public static double[] RandomDoubles(int seed, int count, double mean = 0, double std = 1)
    {
        var g = new Generator(seed);
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = mean + std * g.NextNormal();
        }
        return values;
    }

    public static float[] RandomFloats(int seed, int count, double mean = 0, double std = 1)
    {
        var values = new float[count];
        new Generator(seed).FillNormal(values, mean, std);
        return values;
    }

    /// <summary>A leaf tensor N(mean, std²) that requires gradients.</summary>
    public static Tensor Leaf(int seed, double mean, double std, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        new Generator(seed).FillNormal(t.AsSpan(), mean, std);
        t.RequiresGrad = true;
        return t;
    }

    /// <summary>The channel of flat index <paramref name="index"/> along <paramref name="axis"/> of a contiguous <paramref name="shape"/>.</summary>
    public static int ChannelOf(int index, int[] shape, int axis)
    {
        int stride = 1;
        for (int d = shape.Length - 1; d > axis; d--)
        {
            stride *= shape[d];
        }
        return index / stride % shape[axis];
    }

    /// <summary>Per-channel mean and biased variance, gathered by index arithmetic, textbook two-pass in double.</summary>
    public static (double[] Mean, double[] Variance, int Count) ChannelStatistics(float[] x, int[] shape, int axis)
    {
        int channels = shape[axis];
        var groups = new List<double>[channels];
        for (int c = 0; c < channels; c++)
        {
            groups[c] = [];
        }
        for (int i = 0; i < x.Length; i++)
        {
            groups[ChannelOf(i, shape, axis)].Add(x[i]);
        }
        var mean = groups.Select(g => g.Average()).ToArray();
        var variance = groups.Select((g, c) => g.Select(v => (v - mean[c]) * (v - mean[c])).Average()).ToArray();
        return (mean, variance, groups[0].Count);
    }

    /// <summary>Naive batch norm with given statistics: (x − mean[c]) / √(var[c] + eps) · w[c] + b[c] in double.</summary>
    public static double[] NaiveBatchNorm(float[] x, int[] shape, int axis, double[] mean, double[] variance, float[]? weight, float[]? bias, double eps)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int c = ChannelOf(i, shape, axis);
            y[i] = (x[i] - mean[c]) / Math.Sqrt(variance[c] + eps) * (weight?[c] ?? 1) + (bias?[c] ?? 0);
        }
        return y;
    }

    /// <summary>Naive row normalization: each consecutive block of <paramref name="rowLength"/> values normalized in double.</summary>
    public static double[] NaiveRows(float[] x, int rowLength, double eps, bool rms = false)
    {
        var y = new double[x.Length];
        for (int start = 0; start < x.Length; start += rowLength)
        {
            var row = x.Skip(start).Take(rowLength).Select(v => (double)v).ToArray();
            double mean = rms ? 0 : row.Average();
            double second = row.Select(v => (v - mean) * (v - mean)).Average();
            for (int i = 0; i < rowLength; i++)
            {
                y[start + i] = (row[i] - mean) / Math.Sqrt(second + eps);
            }
        }
        return y;
    }

    /// <summary>Asserts |expected − actual| ≤ tolerance · max(1, |expected|) elementwise, naming the worst element.</summary>
    public static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            double error = Math.Abs(expected[i] - actual[i]) / Math.Max(1, Math.Abs(expected[i]));
            Assert.True(error <= tolerance, $"{what}: element {i}: expected {expected[i]:G9}, got {actual[i]:G9} (error {error:G3} > {tolerance:G3})");
        }
    }

    public static void AssertClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual, double tolerance, string what) =>
        AssertClose(expected.Select(v => (double)v).ToArray(), actual, tolerance, what);

    /// <summary>Inverse of a permutation: result[perm[i]] = i.</summary>
    public static int[] Inverse(int[] permutation)
    {
        var inverse = new int[permutation.Length];
        for (int i = 0; i < permutation.Length; i++)
        {
            inverse[permutation[i]] = i;
        }
        return inverse;
    }
}
