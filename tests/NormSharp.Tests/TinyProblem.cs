namespace NormSharp.Tests;

/// <summary>
/// A fixed quadratic for optimizer tests: loss = Σ_i (c_i · p_i² / 2 + d_i · p_i) over six values split into two
/// parameters ([2, 2] and [2]), so the gradient is c_i · p_i + d_i — known in closed form for the double-precision
/// reference updates written out in the tests.
/// </summary>
internal sealed class TinyProblem
{
    public static readonly double[] Curvature = [1.0, 0.5, 2.0, 0.25, 1.5, 0.8];
    public static readonly double[] Slope = [0.3, -0.2, 0.1, -0.5, 0.0, 0.4];
    public static readonly float[] Start = [1.0f, -2.0f, 0.5f, 3.0f, -1.0f, 0.25f];

    public TinyProblem()
    {
        Weight = Tensor.FromArray(Start[..4], 2, 2);
        Bias = Tensor.FromArray(Start[4..], 2);
        Weight.RequiresGrad = true;
        Bias.RequiresGrad = true;
    }

    public Tensor Weight { get; }

    public Tensor Bias { get; }

    public Tensor[] Parameters => [Weight, Bias];

    /// <summary>Sets the parameters' gradients by autograd (they are cleared first).</summary>
    public void ComputeGradients()
    {
        Weight.Grad = null;
        Bias.Grad = null;
        var loss = Term(Weight, 0) + Term(Bias, 4);
        loss.Backward();
    }

    /// <summary>All six values, flattened.</summary>
    public double[] Values() => [.. Weight.ToArray().Select(v => (double)v), .. Bias.ToArray().Select(v => (double)v)];

    /// <summary>The exact gradient c · p + d at <paramref name="p"/>.</summary>
    public static double[] Gradient(double[] p)
    {
        var g = new double[p.Length];
        for (int i = 0; i < p.Length; i++)
        {
            g[i] = Curvature[i] * p[i] + Slope[i];
        }
        return g;
    }

    public static double[] StartValues() => Array.ConvertAll(Start, v => (double)v);

    /// <summary>|expected − actual| ≤ tolerance · max(1, |expected|) for every value.</summary>
    public static void AssertClose(double[] expected, double[] actual, double tolerance, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])),
                $"{what}, value {i}: expected {expected[i]:G9}, got {actual[i]:G9}");
        }
    }

    private static Tensor Term(Tensor p, int first)
    {
        int n = p.Length;
        var c = Tensor.FromArray(Array.ConvertAll(Curvature[first..(first + n)], v => (float)v), p.Shape);
        var d = Tensor.FromArray(Array.ConvertAll(Slope[first..(first + n)], v => (float)v), p.Shape);
        return (c * p * p * 0.5f).Sum() + (d * p).Sum();
    }
}
