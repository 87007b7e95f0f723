using NormSharp.Kernels;

namespace NormSharp.Tests;

public class GemmTests
{
    // Odd sizes around the blocking: MR = 12 (6-row halves), NR = 16/32, KC = 256, MC = 144, NC = 4096, shared packed A up to 576 rows,
    // the parallel threshold (2^21 multiply-adds: threaded with A packed per item, threaded with A shared) and the depth
    // split (small output, k >= 1024 with two workers) and the column split (one row panel, threaded: 70x300x420, and
    // 60x100x784 in four chunks, the last of 4 columns).
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 0, 3, 4 }, { 1, 1, 1 }, { 3, 0, 2 }, { 2, 5, 0 }, { 4, 16, 7 }, { 5, 17, 3 }, { 6, 32, 1 }, { 7, 33, 2 },
        { 17, 33, 65 }, { 64, 48, 31 }, { 130, 257, 9 }, { 1, 300, 257 }, { 300, 1, 257 }, { 145, 31, 513 },
        { 150, 97, 260 }, { 289, 65, 70 }, { 64, 10, 784 }, { 13, 4100, 3 }, { 600, 70, 210 }, { 300, 120, 240 }, { 40, 50, 4200 }, { 70, 300, 420 }, { 60, 100, 784 },
    };

    // Kernels as ints: the enum is internal and xunit theories must be public.
    public static TheoryData<int> Kernels
    {
        get
        {
            var data = new TheoryData<int>();
            foreach (var kernel in new[] { SimdWidth.Scalar, SimdWidth.Vector256, SimdWidth.Vector512 })
            {
                if (Simd.IsSupported(kernel))
                {
                    data.Add((int)kernel);
                }
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Fast_matches_reference_for_every_transpose_and_accumulate(int m, int n, int k)
    {
        foreach (var kernel in new[] { SimdWidth.Scalar, SimdWidth.Vector256, SimdWidth.Vector512 })
        {
            if (Simd.IsSupported(kernel))
            {
                CompareWithReference(m, n, k, kernel);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Fast_matches_reference_on_every_small_size(int kernelIndex)
    {
        var kernel = (SimdWidth)kernelIndex;
        // Every m and n from 0 to 40 with a k that crosses no block boundary, then every k with fixed m, n:
        // exercises each row and column tail of the micro-kernel.
        for (int size = 0; size <= 40; size++)
        {
            CompareWithReference(size, 40 - size, 5, kernel, transposes: false);
            CompareWithReference(size, size, 3, kernel, transposes: false);
        }
        for (int k = 0; k <= 257; k += 11)
        {
            CompareWithReference(7, 35, k, kernel, transposes: false);
        }
    }

    [Fact]
    public void Short_destination_throws()
    {
        var a = new float[6];
        var c = new float[4];
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply(a, a, 2, 2, 3, false, false, false, c.AsSpan(0, 3)));
        Assert.Contains("c >= 4", ex.Message, StringComparison.Ordinal);
    }

    private static void CompareWithReference(int m, int n, int k, SimdWidth kernel, bool transposes = true)
    {
        var g = new Generator(m * 1000 + n * 10 + k);
        var a = new float[m * k];
        var b = new float[k * n];
        g.FillNormal(a);
        g.FillNormal(b);
        bool[] flags = transposes ? [false, true] : [false];
        foreach (bool ta in flags)
        {
            foreach (bool tb in flags)
            {
                foreach (bool acc in new[] { false, true })
                {
                    var expected = new float[m * n];
                    var actual = new float[m * n];
                    g.FillNormal(expected);
                    expected.CopyTo(actual, 0);
                    Gemm.Reference(a, b, m, n, k, ta, tb, acc, expected);
                    Gemm.Multiply(a, b, m, n, k, ta, tb, acc, actual, kernel);
                    for (int i = 0; i < expected.Length; i++)
                    {
                        Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * Math.Max(Math.Sqrt(k), Math.Abs(expected[i])),
                            $"{kernel} m={m} n={n} k={k} ta={ta} tb={tb} acc={acc} at {i}: {expected[i]} vs {actual[i]}");
                    }
                }
            }
        }
    }
}
