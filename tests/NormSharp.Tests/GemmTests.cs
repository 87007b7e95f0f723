using NormSharp.Kernels;

namespace NormSharp.Tests;

public class GemmTests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 0, 3, 4 }, { 1, 1, 1 }, { 3, 0, 2 }, { 2, 5, 0 }, { 4, 16, 7 }, { 5, 17, 3 }, { 17, 33, 65 }, { 64, 48, 31 }, { 130, 257, 9 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Fast_matches_reference_for_every_transpose_and_accumulate(int m, int n, int k)
    {
        var g = new Generator(m * 1000 + n * 10 + k);
        var a = new float[m * k];
        var b = new float[k * n];
        g.FillNormal(a);
        g.FillNormal(b);
        foreach (bool ta in new[] { false, true })
        {
            foreach (bool tb in new[] { false, true })
            {
                foreach (bool acc in new[] { false, true })
                {
                    var expected = new float[m * n];
                    var actual = new float[m * n];
                    g.FillNormal(expected);
                    expected.CopyTo(actual, 0);
                    Gemm.Reference(a, b, m, n, k, ta, tb, acc, expected);
                    Gemm.Multiply(a, b, m, n, k, ta, tb, acc, actual);
                    for (int i = 0; i < expected.Length; i++)
                    {
                        Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * Math.Max(1, Math.Abs(expected[i])),
                            $"m={m} n={n} k={k} ta={ta} tb={tb} acc={acc} at {i}: {expected[i]} vs {actual[i]}");
                    }
                }
            }
        }
    }
}
