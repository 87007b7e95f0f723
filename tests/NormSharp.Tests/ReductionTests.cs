using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>The fast reduction kernel against its reference, and Sum/Mean over several dimensions.</summary>
public class ReductionTests
{
    private static float[] Random(int seed, int count, float offset = 0)
    {
        var values = new float[count];
        new Generator(seed).FillNormal(values);
        for (int i = 0; i < count; i++)
        {
            values[i] += offset;
        }
        return values;
    }

    // Kernel result vs reference: both round a double sum; the fast one's float blocks add ~1e-7 relative per block.
    private static void AssertMatchesReference(int[] shape, bool[] reduced, bool withFactor, double scale, int seed)
    {
        int count = shape.Aggregate(1, (a, b) => a * b);
        int kept = shape.Where((_, d) => !reduced[d]).Aggregate(1, (a, b) => a * b);
        var source = Random(seed, count, offset: 0.5f);
        var factor = withFactor ? Random(seed + 1, count) : [];
        var expected = new float[kept];
        var actual = new float[kept];
        ReductionReference.Sum(source, factor, shape, reduced, scale, expected);
        Reduction.Sum(source, factor, shape, reduced, scale, actual);
        // Tolerance from the summed magnitudes: each output sums at most `count` terms of size ~2.
        double tolerance = 1e-6 * Math.Max(1, 2.0 * count / Math.Max(1, kept)) * Math.Abs(scale);
        for (int i = 0; i < kept; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance || (float.IsNaN(expected[i]) && float.IsNaN(actual[i])),
                $"shape {ShapeUtil.Format(shape)} reduced [{string.Join(",", reduced)}] factor {withFactor} element {i}: reference {expected[i]}, fast {actual[i]}");
        }
    }

    [Fact]
    public void Full_and_row_sums_match_reference_on_lengths_0_to_257()
    {
        for (int length = 0; length <= 257; length++)
        {
            AssertMatchesReference([length], [true], withFactor: false, 1.0, length);
            AssertMatchesReference([length], [true], withFactor: true, 1.0 / Math.Max(1, length), length);
            AssertMatchesReference([3, length], [false, true], withFactor: false, 1.0, length);
            AssertMatchesReference([length, 3], [true, false], withFactor: true, 1.0, length);
            AssertMatchesReference([2, length, 5], [false, true, false], withFactor: false, 0.5, length);
        }
    }

    public static TheoryData<int[], bool[]> OddShapes() => new()
    {
        { [7, 5, 3, 2], [true, false, true, true] },
        { [7, 5, 3, 2], [false, true, false, false] },
        { [7, 5, 3, 2], [true, false, true, false] },
        { [7, 5, 3, 2], [false, true, false, true] },
        { [7, 5, 3, 2], [true, true, true, true] },
        { [7, 5, 3, 2], [false, false, false, false] },
        { [1, 9, 1, 13], [true, false, true, true] },
        { [1, 9, 1, 13], [false, true, true, false] },
        { [33, 1, 1], [false, true, true] },
        { [3, 2000, 17], [false, true, false] },   // column sums split over the summed dimension
        { [2, 3, 70000], [true, false, true] },    // long rows split into parts
        { [1, 200000], [false, true] },
        { [3, 4097], [false, true] },              // a row block boundary (4096 floats a block)
        { [2, 8192], [false, true] },
        { [200000, 3], [true, false] },
        { [5, 1030, 4], [true, false, true] },
        { [3, 5, 4100], [false, true, false] },    // a column chunk boundary (4096 kept elements a chunk)
        { [2, 40, 4097], [true, true, false] },
        { [0, 3], [true, false] },
        { [3, 0], [false, true] },
    };

    [Theory]
    [MemberData(nameof(OddShapes))]
    public void Fast_kernel_matches_reference_on_odd_shapes(int[] shape, bool[] reduced)
    {
        AssertMatchesReference(shape, reduced, withFactor: false, 1.0, 11);
        AssertMatchesReference(shape, reduced, withFactor: true, -1.0, 12);
        AssertMatchesReference(shape, reduced, withFactor: false, 1.0 / 3, 13);
    }

    [Fact]
    public void Sum_of_a_large_offset_tensor_keeps_its_digits()
    {
        // 1e6 elements of 1e4 + noise: a float running sum would be off by whole units; blocks added in double are not.
        var values = Random(3, 1_000_000);
        double exact = 0;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = 1e4f + values[i];
            exact += values[i];
        }
        float sum = Tensor.FromArray(values, values.Length).Sum().Item();
        Assert.True(Math.Abs(sum - exact) <= 1e-6 * Math.Abs(exact), $"sum {sum}, exact {exact}");
    }

    [Fact]
    public void Sum_over_several_dims_has_PyTorch_shapes()
    {
        var x = Tensor.Zeros(2, 3, 4, 5);
        Assert.Equal([1, 3, 1, 1], x.Sum([0, 2, 3], keepDim: true).Shape);
        Assert.Equal([3], x.Sum([0, 2, 3]).Shape);
        Assert.Equal([2, 5], x.Mean([-3, 2]).Shape);
        Assert.Equal([1, 1, 1, 1], x.Mean([], keepDim: true).Shape);
        Assert.Equal([], x.Sum([]).Shape);
        Assert.True(float.IsNaN(Tensor.Zeros(0, 3).Mean().Item()));
        Assert.Equal(0f, Tensor.Zeros(0, 3).Sum().Item());
    }

    [Fact]
    public void Sum_over_several_dims_equals_nested_single_dim_sums()
    {
        var x = Tensor.FromArray(Random(5, 2 * 3 * 4 * 5), 2, 3, 4, 5);
        var expected = x.Sum(3).Sum(2).Sum(0).ToArray();
        var actual = x.Sum([0, 2, 3]).ToArray();
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 4);
        }
        Assert.Equal(x.Mean(1, keepDim: true).ToArray(), x.Mean([1], keepDim: true).ToArray());
    }

    [Fact]
    public void Reduced_dims_are_checked()
    {
        var x = Tensor.Zeros(2, 3);
        var duplicate = Assert.Throws<ArgumentException>(() => x.Sum([1, -1]));
        Assert.Contains("more than once", duplicate.Message, StringComparison.Ordinal);
        Assert.ThrowsAny<ArgumentException>(() => x.Mean([2]));
        var mismatch = Assert.Throws<ArgumentException>(() => Reduction.Sum(new float[6], [], [2, 3], [true, false], 1, new float[2]));
        Assert.Contains("destination of 3", mismatch.Message, StringComparison.Ordinal);
    }

    public static TheoryData<int[], int[], bool, bool> GradCases() => new()
    {
        { [3, 4, 5], [0, 2], false, false },
        { [3, 4, 5], [0, 2], true, true },
        { [2, 3, 2, 3], [1], true, false },
        { [2, 3, 2, 3], [-1, 0], false, true },
        { [4, 5], [], false, true },
    };

    [Theory]
    [MemberData(nameof(GradCases))]
    public void Gradients_of_multi_dim_sum_and_mean_match_finite_differences(int[] shape, int[] dims, bool keepDim, bool mean)
    {
        var x = GradCheck.RandomLeaf(21, shape);
        GradCheck.Check(t => mean ? t[0].Mean(dims, keepDim) : t[0].Sum(dims, keepDim), [x], seed: 4);
    }

    [Fact]
    public void Gradient_of_full_sum_and_mean_match_finite_differences()
    {
        var x = GradCheck.RandomLeaf(22, 3, 5, 7);
        GradCheck.Check(t => t[0].Sum(), [x], seed: 5);
        GradCheck.Check(t => t[0].Mean() * 3f, [x], seed: 6);
        GradCheck.Check(t => (t[0] * t[0]).Sum(), [x], seed: 7);
    }
}
