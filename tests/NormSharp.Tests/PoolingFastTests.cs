using NormSharp.Functional;
using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>The fast pooling paths against the readable kernels: 3×3 stride-2 max pooling and global average pooling.</summary>
public class PoolingFastTests
{
    public static TheoryData<int, int, int> ThreeByThreeShapes()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int padding in new[] { 0, 1 })
        {
            foreach (var (height, width) in new[] { (3, 3), (4, 5), (7, 9), (8, 17), (9, 19), (11, 20), (12, 21), (13, 26), (16, 33), (5, 41) })
            {
                data.Add(height, width, padding);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ThreeByThreeShapes))]
    public void Three_by_three_stride_two_max_pool_matches_the_general_loop_with_ties_infinities_and_NaN(int height, int width, int padding)
    {
        var window = new Window2d(height, width, 3, 3, 2, 2, padding, padding);
        Assert.True(Pooling.IsThreeByThreeStrideTwo(window));
        const int planes = 3;
        var generator = new Generator(height * 37 + width + padding);
        var input = new float[planes * height * width];
        generator.FillNormal(input);
        float[] specials = [float.NaN, float.NegativeInfinity, float.PositiveInfinity, 0f, -0f, 1f, 1f, 1f, float.NaN];
        for (int i = 0; i < input.Length; i += 4)
        {
            input[i] = specials[(i / 4) % specials.Length];   // ties, NaN, ±∞ at every window position
        }
        int outputs = planes * window.OutPlane;
        float[] fast = new float[outputs], general = new float[outputs];
        int[] fastIndices = new int[outputs], generalIndices = new int[outputs];
        Pooling.MaxForward(input, planes, window, fast, fastIndices);
        Pooling.MaxForwardGeneral(input, planes, window, general, generalIndices);
        Assert.Equal(generalIndices, fastIndices);
        Assert.Equal(general.Select(BitConverter.SingleToInt32Bits), fast.Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(7, 9)]   // odd: the last row and column belong to no window and get zeros
    [InlineData(1, 2)]
    [InlineData(5, 14)]
    public void Halving_max_pool_backward_writes_what_the_general_scatter_adds(int height, int width)
    {
        var window = new Window2d(height, width, 2, 2, 2, 2, 0, 0);
        const int planes = 3;
        var generator = new Generator(height * 11 + width);
        var input = new float[planes * window.Plane];
        generator.FillNormal(input);
        var output = new float[planes * window.OutPlane];
        var indices = new int[output.Length];
        Pooling.MaxForward(input, planes, window, output, indices);
        var gradOutput = new float[output.Length];
        generator.FillNormal(gradOutput);
        float[] fast = new float[input.Length], general = new float[input.Length];
        fast.AsSpan().Fill(float.NaN);   // overwritten everywhere, not accumulated into
        Pooling.MaxBackward(gradOutput, indices, planes, window, fast);
        Pooling.MaxBackwardGeneral(gradOutput, indices, planes, window, general);
        Assert.Equal(general, fast);
    }

    [Fact]
    public void Three_by_three_stride_two_max_pool_of_all_negative_infinity_picks_each_window_s_first_in_image_element()
    {
        var window = new Window2d(9, 20, 3, 3, 2, 2, 1, 1);
        var input = Enumerable.Repeat(float.NegativeInfinity, window.Plane).ToArray();
        float[] fast = new float[window.OutPlane], general = new float[window.OutPlane];
        int[] fastIndices = new int[window.OutPlane], generalIndices = new int[window.OutPlane];
        Pooling.MaxForward(input, 1, window, fast, fastIndices);
        Pooling.MaxForwardGeneral(input, 1, window, general, generalIndices);
        Assert.Equal(generalIndices, fastIndices);
        Assert.All(fast, value => Assert.Equal(float.NegativeInfinity, value));
    }

    [Fact]
    public void Global_average_pooling_matches_the_window_kernel_on_every_plane_length_up_to_257()
    {
        const int planes = 3;
        var generator = new Generator(41);
        for (int length = 1; length <= 257; length++)
        {
            var window = new Window2d(1, length, 1, length, 1, length, 0, 0);
            var input = new float[planes * length];
            generator.FillNormal(input);
            for (int i = 0; i < input.Length; i++)
            {
                input[i] += 1e3f;   // an offset a float running sum would lose digits to
            }
            float[] fast = new float[planes], reference = new float[planes];
            AdaptivePooling.GlobalAvgForward(input, planes, length, fast);
            Pooling.AvgForward(input, planes, window, reference);
            for (int p = 0; p < planes; p++)
            {
                // The row sums add float vector lanes within blocks of 4096 (Kernels/Reduction.cs): a rounding error of
                // about 2^-24 per level of the lanes' pairwise tree, not the single rounding of a double sum.
                double tolerance = Math.Abs(reference[p]) * Math.ScaleB(1, -24) * (Math.Ceiling(Math.Log2(length)) + 2);
                Assert.True(Math.Abs(fast[p] - reference[p]) <= tolerance, $"length {length}, plane {p}: {fast[p]} vs {reference[p]}");
            }
            var gradOutput = new float[planes];
            generator.FillNormal(gradOutput);
            float[] gradFast = new float[planes * length], gradReference = new float[planes * length];
            gradFast.AsSpan().Fill(float.NaN);   // overwritten, not accumulated into
            AdaptivePooling.GlobalAvgBackward(gradOutput, planes, length, gradFast);
            Pooling.AvgBackward(gradOutput, planes, window, gradReference);
            Assert.Equal(gradReference, gradFast);
        }
    }

    [Theory]
    [InlineData(7, 7)]
    [InlineData(8, 5)]
    public void Global_average_pooling_through_AvgPool2d_and_AdaptiveAvgPool2d_matches_finite_differences(int height, int width)
    {
        var x = GradCheck.RandomLeaf(height + width, 2, 3, height, width);
        GradCheck.Check(t => F.AvgPool2d(t[0], (height, width)), [x]);
        GradCheck.Check(t => F.AdaptiveAvgPool2d(t[0], 1), [x]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Three_by_three_stride_two_max_pool_gradient_matches_finite_differences(int padding)
    {
        // Rows of 21: the fast path takes windows in fours; values at least 0.1 apart, so that no window's maximum
        // changes under the finite-difference step.
        var order = new Generator(13 + padding).Permutation(2 * 2 * 7 * 21);
        var x = Tensor.FromArray(Array.ConvertAll(order, v => v * 0.1f - 30f), 2, 2, 7, 21);
        x.RequiresGrad = true;
        GradCheck.Check(t => F.MaxPool2d(t[0], 3, 2, padding), [x], step: 1e-2);
    }
}
