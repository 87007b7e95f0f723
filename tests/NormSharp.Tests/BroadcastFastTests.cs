using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>The fast broadcasting kernel against the element loop, and the gradients of broadcast ops.</summary>
public class BroadcastFastTests
{
    private static float[] Random(int seed, int count)
    {
        var values = new float[count];
        new Generator(seed).FillNormal(values);
        return values;
    }

    private static void AssertSameAsReference<TOp>(int[] shapeA, int[] shapeB, int seed)
        where TOp : Broadcast.IBinaryRows
    {
        var shape = ShapeUtil.Broadcast(shapeA, shapeB);
        var a = Random(seed, shapeA.Aggregate(1, (x, y) => x * y));
        var b = Random(seed + 1, shapeB.Aggregate(1, (x, y) => x * y));
        for (int i = 0; i < b.Length; i++)
        {
            b[i] += b[i] >= 0 ? 0.5f : -0.5f;   // divisors away from 0
        }
        int count = shape.Aggregate(1, (x, y) => x * y);
        var expected = new float[count];
        var actual = new float[count];
        Broadcast.Binary<TOp>(a, Broadcast.Strides(shapeA, shape), b, Broadcast.Strides(shapeB, shape), shape, expected);
        BroadcastFast.Binary<TOp>(a, Broadcast.Strides(shapeA, shape), b, Broadcast.Strides(shapeB, shape), shape, actual);
        for (int i = 0; i < count; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6f * Math.Max(1, Math.Abs(expected[i])),
                $"{typeof(TOp).Name} {ShapeUtil.Format(shapeA)} with {ShapeUtil.Format(shapeB)} at {i}: loop {expected[i]}, fast {actual[i]}");
        }
    }

    private static void AllOps(int[] shapeA, int[] shapeB, int seed)
    {
        AssertSameAsReference<Tensor.AddOp>(shapeA, shapeB, seed);
        AssertSameAsReference<Tensor.SubtractOp>(shapeA, shapeB, seed);
        AssertSameAsReference<Tensor.MultiplyOp>(shapeA, shapeB, seed);
        AssertSameAsReference<Tensor.DivideOp>(shapeA, shapeB, seed);
        AssertSameAsReference<Tensor.SubtractOp>(shapeB, shapeA, seed);
        AssertSameAsReference<Tensor.DivideOp>(shapeB, shapeA, seed);
    }

    [Fact]
    public void Rows_scalars_and_columns_match_the_loop_on_lengths_0_to_257()
    {
        for (int length = 0; length <= 257; length++)
        {
            AllOps([length], [length], length);
            AllOps([length], [], length);
            AllOps([3, length], [length], length);
            AllOps([length, 3], [length, 1], length);
            AllOps([2, length, 3], [1, length, 1], length);
        }
    }

    public static TheoryData<int[], int[]> OddShapes() => new()
    {
        { [4, 16, 33, 33], [1, 16, 1, 1] },      // a bias per channel
        { [4, 16, 33, 33], [16, 1, 1] },
        { [3000, 64], [64] },                    // rows + bias
        { [1000, 7], [7] },                      // a short row tiled: many tiles, the last one partial
        { [9, 2048], [2048] },                   // the longest tiled row (two a tile)
        { [5, 2049], [2049] },                   // one float longer: row by row
        { [70001], [] },                         // one long row split into segments
        { [2, 70001], [2, 1] },
        { [5, 1, 7], [1, 3, 1] },                // both broadcast
        { [2, 1, 4, 1], [3, 1, 5] },
        { [1, 1, 1], [1] },
        { [6, 1, 7], [1, 7] },
    };

    [Theory]
    [MemberData(nameof(OddShapes))]
    public void Fast_kernel_matches_the_loop_on_odd_shapes(int[] shapeA, int[] shapeB) => AllOps(shapeA, shapeB, 31);

    [Theory]
    [InlineData(new[] { 2, 3, 4, 5 }, new[] { 1, 3, 1, 1 })]
    [InlineData(new[] { 6, 4 }, new[] { 4 })]
    [InlineData(new[] { 6, 4 }, new[] { 6, 1 })]
    [InlineData(new[] { 3, 1, 4 }, new[] { 1, 5, 1 })]
    [InlineData(new[] { 3, 4 }, new int[0])]
    public void Broadcast_op_gradients_match_finite_differences(int[] shapeA, int[] shapeB)
    {
        var a = GradCheck.RandomLeaf(41, shapeA);
        var b = GradCheck.RandomLeaf(42, shapeB);
        // Keep divisors away from zero.
        var data = b.AsSpan();
        for (int i = 0; i < data.Length; i++)
        {
            data[i] += data[i] >= 0 ? 1f : -1f;
        }
        GradCheck.Check(t => t[0] + t[1], [a, b], seed: 1);
        GradCheck.Check(t => t[0] - t[1], [a, b], seed: 2);
        GradCheck.Check(t => t[0] * t[1], [a, b], seed: 3);
        GradCheck.Check(t => t[0] / t[1], [a, b], seed: 4);
        GradCheck.Check(t => t[1] * t[0], [a, b], seed: 5);
    }
}
