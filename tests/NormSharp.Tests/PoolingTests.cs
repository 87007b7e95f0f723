using NormSharp.Functional;
using NormSharp.Nn;

namespace NormSharp.Tests;

public class PoolingTests
{
    // H, W, kH, kW, sH, sW, pH, pW
    public static TheoryData<int, int, int, int, int, int, int, int> Windows => new()
    {
        { 4, 4, 2, 2, 2, 2, 0, 0 },
        { 7, 5, 2, 2, 2, 2, 0, 0 },   // odd sizes: the last row/column is dropped (floor mode)
        { 7, 6, 3, 3, 2, 2, 1, 1 },
        { 6, 7, 3, 2, 1, 2, 1, 1 },
        { 5, 5, 3, 3, 1, 1, 1, 0 },
        { 3, 8, 3, 3, 3, 3, 1, 1 },
    };

    [Theory]
    [MemberData(nameof(Windows))]
    public void Max_and_avg_forward_match_direct_reference(int height, int width, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int paddingHeight, int paddingWidth)
    {
        var x = Tensor.Randn(new Generator(height * 10 + width), 2, 3, height, width);
        var max = F.MaxPool2d(x, (kernelHeight, kernelWidth), (strideHeight, strideWidth), (paddingHeight, paddingWidth));
        var avg = F.AvgPool2d(x, (kernelHeight, kernelWidth), (strideHeight, strideWidth), (paddingHeight, paddingWidth));
        int outH = (height + 2 * paddingHeight - kernelHeight) / strideHeight + 1;
        int outW = (width + 2 * paddingWidth - kernelWidth) / strideWidth + 1;
        Assert.Equal(new[] { 2, 3, outH, outW }, max.Shape);
        Assert.Equal(new[] { 2, 3, outH, outW }, avg.Shape);
        var data = x.ToArray();
        var maxValues = max.ToArray();
        var avgValues = avg.ToArray();
        for (int plane = 0; plane < 6; plane++)
        {
            for (int oy = 0; oy < outH; oy++)
            {
                for (int ox = 0; ox < outW; ox++)
                {
                    double best = double.NegativeInfinity, sum = 0;
                    for (int i = 0; i < kernelHeight; i++)
                    {
                        for (int j = 0; j < kernelWidth; j++)
                        {
                            int iy = oy * strideHeight - paddingHeight + i, ix = ox * strideWidth - paddingWidth + j;
                            if (iy >= 0 && iy < height && ix >= 0 && ix < width)
                            {
                                double v = data[(plane * height + iy) * width + ix];
                                best = Math.Max(best, v);
                                sum += v;
                            }
                        }
                    }
                    int o = (plane * outH + oy) * outW + ox;
                    Assert.Equal(best, maxValues[o]);
                    // count_include_pad: padding counts in the divisor.
                    Assert.Equal(sum / (kernelHeight * kernelWidth), avgValues[o], tolerance: 1e-5);
                }
            }
        }
    }

    [Theory]
    [InlineData(2, 0, 0)]
    [InlineData(3, 2, 1)]
    [InlineData(3, 1, 1)]
    [InlineData(2, 1, 1)]
    public void Max_gradient_matches_finite_differences(int kernel, int stride, int padding)
    {
        // Distinct values at least 0.1 apart, so that no window's maximum changes under the finite-difference step.
        var order = new Generator(kernel * 7 + stride).Permutation(2 * 3 * 7 * 6);
        var x = Tensor.FromArray(Array.ConvertAll(order, v => v * 0.1f - 12f), 2, 3, 7, 6);
        x.RequiresGrad = true;
        GradCheck.Check(t => F.MaxPool2d(t[0], kernel, stride == 0 ? null : stride, padding), [x], step: 1e-2);
    }

    [Theory]
    [InlineData(2, 0, 0)]
    [InlineData(3, 2, 1)]
    [InlineData(3, 1, 1)]
    public void Avg_gradient_matches_finite_differences(int kernel, int stride, int padding)
    {
        var x = GradCheck.RandomLeaf(kernel + stride, 2, 3, 7, 6);
        GradCheck.Check(t => F.AvgPool2d(t[0], kernel, stride == 0 ? null : stride, padding), [x]);
        var y = GradCheck.RandomLeaf(4, 1, 2, 6, 5);
        GradCheck.Check(t => F.AvgPool2d(t[0], (3, 2), (1, 2), (1, 0)), [y]);
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(7, 9)]   // odd: the last row and column belong to no window
    [InlineData(6, 14)]  // 7 windows a row: four in vectors, three in the scalar tail
    public void Halving_max_pool_matches_the_general_loop_with_ties_infinities_and_NaN(int height, int width)
    {
        var window = new Kernels.Window2d(height, width, 2, 2, 2, 2, 0, 0);
        Assert.True(Kernels.Pooling.IsHalving(window));
        const int planes = 3;
        var generator = new Generator(height * 31 + width);
        var input = new float[planes * height * width];
        generator.FillNormal(input);
        float[] specials = [float.NaN, float.NegativeInfinity, float.PositiveInfinity, 0f, -0f, 1f, 1f, 1f];
        for (int i = 0; i < input.Length; i += 3)
        {
            input[i] = specials[(i / 3) % specials.Length];   // ties (1, 1, 1, 0 and −0), NaN, ±∞ at every window position
        }
        int outputs = planes * window.OutPlane;
        float[] fast = new float[outputs], general = new float[outputs];
        int[] fastIndices = new int[outputs], generalIndices = new int[outputs];
        Kernels.Pooling.MaxForward(input, planes, window, fast, fastIndices);
        Kernels.Pooling.MaxForwardGeneral(input, planes, window, general, generalIndices);
        Assert.Equal(generalIndices, fastIndices);
        Assert.Equal(general.Select(BitConverter.SingleToInt32Bits), fast.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void Max_gradient_goes_to_the_first_maximum_of_a_tie()
    {
        // Every window is a tie; PyTorch routes each window's gradient to its first element in row-major order.
        var x = Tensor.Full(1f, 1, 1, 4, 4);
        x.RequiresGrad = true;
        var y = F.MaxPool2d(x, 2);
        y.Backward(Tensor.FromArray([1, 2, 3, 4], 1, 1, 2, 2));
        Assert.Equal(new float[] { 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0 }, x.Grad!.ToArray());
    }

    [Fact]
    public void Overlapping_max_windows_accumulate_gradient()
    {
        // With stride 1, the centre (largest) element is the maximum of all four 2x2 windows.
        var x = Tensor.FromArray([0, 1, 0, 1, 9, 1, 0, 1, 0], 1, 3, 3);
        x.RequiresGrad = true;
        var y = F.MaxPool2d(x, 2, stride: 1);
        Assert.Equal(new float[] { 9, 9, 9, 9 }, y.ToArray());
        y.Backward(Tensor.FromArray([1, 2, 3, 4], 1, 2, 2));
        Assert.Equal(10f, x.Grad!.ToArray()[4]);
        Assert.Equal(10f, x.Grad!.ToArray().Sum());
    }

    [Fact]
    public void Max_pool_ignores_padding_even_for_negative_inputs()
    {
        var x = Tensor.Full(-5f, 1, 1, 2, 2);
        Assert.All(F.MaxPool2d(x, 2, stride: 1, padding: 1).ToArray(), v => Assert.Equal(-5f, v));
        // Average pooling counts the padded zeros: a corner window holds one -5 out of four.
        Assert.Equal(-1.25f, F.AvgPool2d(x, 2, stride: 1, padding: 1).ToArray()[0]);
    }

    [Fact]
    public void Modules_default_stride_to_kernel_size()
    {
        var x = Tensor.Randn(new Generator(3), 2, 3, 8, 6);
        var maxPool = new MaxPool2d(2);
        var avgPool = new AvgPool2d((2, 3));
        Assert.Equal(new Size2d(2, 2), maxPool.Stride);
        Assert.Equal(new[] { 2, 3, 4, 3 }, maxPool.Forward(x).Shape);
        Assert.Equal(new[] { 2, 3, 4, 2 }, avgPool.Forward(x).Shape);
        Assert.Equal(F.MaxPool2d(x, 2, 2).ToArray(), maxPool.Forward(x).ToArray());
    }

    [Fact]
    public void Padding_over_half_the_kernel_names_both()
    {
        var ex = Assert.Throws<ArgumentException>(() => F.MaxPool2d(Tensor.Zeros(1, 1, 8, 8), 3, padding: 2));
        Assert.Contains("padding (2, 2)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("kernel size (3, 3)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_rank_and_oversized_window_are_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => F.AvgPool2d(Tensor.Zeros(4, 4), 2));
        Assert.Contains("[4, 4]", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => F.MaxPool2d(Tensor.Zeros(1, 1, 2, 5), 3));
        Assert.Contains("(3, 3)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[1, 1, 2, 5]", ex.Message, StringComparison.Ordinal);
    }
}
