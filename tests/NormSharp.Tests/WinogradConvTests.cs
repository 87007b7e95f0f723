using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>
/// The Winograd F(2x2, 3x3) convolution against the direct reference convolution, forward and as the input gradient
/// (the flipped, transposed filters), at every multiply-add width this machine runs: odd and even output sizes,
/// paddings 0-3, channel counts that leave partial strips, blocks of one tile row and blocks spanning samples.
/// </summary>
public class WinogradConvTests
{
    public sealed record Case(int Batch, int Channels, int Height, int Width, int OutChannels, int Padding);

    public static TheoryData<Case> Cases => new()
    {
        new(2, 8, 8, 8, 8, 1),       // 8x8: 16 tiles a sample, blocks of two samples
        new(3, 9, 7, 5, 13, 1),      // odd output: last tiles half junk; 13 outputs: strips of 12 + 1
        new(1, 16, 28, 28, 16, 1),
        new(2, 10, 9, 11, 8, 0),     // no padding: 7x9 outputs
        new(2, 8, 6, 7, 20, 2),      // padding 2: 8x9 outputs
        new(1, 11, 5, 5, 9, 3),      // padding beyond the kernel
        new(2, 12, 3, 3, 8, 0),      // one output: one tile, three junk outputs
        new(1, 8, 4, 70, 12, 1),     // rows of 35 tiles: blocks end inside rows
        new(2, 70, 6, 6, 40, 1),     // 70 channels: depth past one strip of the products
        new(2, 33, 57, 9, 17, 1),    // many tile rows, block boundaries inside samples
        new(1, 330, 4, 5, 8, 1),     // depth 330: the products in two depth blocks, the second adding to the first
    };

    private static readonly SimdWidth[] Widths = [.. new[] { SimdWidth.Scalar, SimdWidth.Vector256, SimdWidth.Vector512 }.Where(Simd.IsSupported)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_matches_the_direct_convolution(Case c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var generator = new Generator(c.Channels * 13 + c.Width);
        var x = Tensor.Randn(generator, XShape(c)).ToArray();
        var w = Tensor.Randn(generator, WeightShape(c)).ToArray();
        var bias = Tensor.Randn(generator, c.OutChannels).ToArray();
        var window = new Window2d(c.Height, c.Width, 3, 3, 1, 1, c.Padding, c.Padding);
        var expected = ReferenceConv.Forward(x, XShape(c), w, WeightShape(c), bias, Geometry(c));
        foreach (var width in Widths)
        {
            // A canary past the output: nothing is written beyond it.
            var y = new float[c.Batch * c.OutChannels * window.OutPlane + 1];
            y[^1] = 42f;
            using (var transformed = WinogradConv.TransformWeight(w, 0, c.OutChannels, c.Channels, flipped: false))
            {
                WinogradConv.Forward(x, 0, c.Batch, window, transformed, bias, y, 0, width);
            }
            Assert.Equal(42f, y[^1]);
            ReferenceConv.AssertClose(expected, y[..^1], 1e-4, $"output at {width}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Flipped_filters_give_the_input_gradient(Case c)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (c.Padding > 2)
        {
            return;   // the convolution crops: its input gradient takes the sub-pixel path (SubPixelConvTests)
        }
        var generator = new Generator(c.OutChannels * 7 + c.Height);
        var x = Tensor.Randn(generator, XShape(c)).ToArray();
        var w = Tensor.Randn(generator, WeightShape(c)).ToArray();
        var window = new Window2d(c.Height, c.Width, 3, 3, 1, 1, c.Padding, c.Padding);
        var dy = Tensor.Randn(generator, c.Batch, c.OutChannels, window.OutHeight, window.OutWidth).ToArray();
        var transposed = new Window2d(window.OutHeight, window.OutWidth, 3, 3, 1, 1, 2 - c.Padding, 2 - c.Padding);
        var expected = ReferenceConv.Backward(x, XShape(c), w, WeightShape(c), dy, Geometry(c)).GradInput;
        foreach (var width in Widths)
        {
            var gradInput = new float[x.Length];
            using (var transformed = WinogradConv.TransformWeight(w, 0, c.Channels, c.OutChannels, flipped: true))
            {
                WinogradConv.Forward(dy, 0, c.Batch, transposed, transformed, null, gradInput, 0, width);
            }
            ReferenceConv.AssertClose(expected, gradInput, 1e-4, $"gradInput at {width}");
        }
    }

    [Fact]
    public void Runs_for_3x3_stride_1_convolutions_of_at_least_64_channels()
    {
        var window = new Window2d(8, 8, 3, 3, 1, 1, 1, 1);
        Assert.True(WinogradConv.Applies(window, 1, 64, 64));
        Assert.True(WinogradConv.Applies(window with { PaddingHeight = 0 }, 1, 128, 64));
        Assert.False(WinogradConv.Applies(window, 2, 64, 64));
        Assert.False(WinogradConv.Applies(window, 1, 32, 64));
        Assert.False(WinogradConv.Applies(window, 1, 64, 32));
        Assert.False(WinogradConv.Applies(window with { StrideHeight = 2 }, 1, 64, 64));
        Assert.False(WinogradConv.Applies(window with { DilationWidth = 2 }, 1, 64, 64));
        Assert.False(WinogradConv.Applies(window with { KernelWidth = 5 }, 1, 64, 64));
    }

    [Fact]
    public void Conv2d_at_64_channels_takes_this_path_forward_and_for_the_input_gradient()
    {
        var c = new Case(3, 64, 9, 10, 64, 1);
        var generator = new Generator(64);
        var x = Tensor.Randn(generator, XShape(c));
        var w = Tensor.Randn(generator, WeightShape(c));
        var bias = Tensor.Randn(generator, c.OutChannels);
        x.RequiresGrad = w.RequiresGrad = bias.RequiresGrad = true;
        var y = NormSharp.Functional.F.Conv2d(x, w, bias, 1, 1);
        ReferenceConv.AssertClose(
            ReferenceConv.Forward(x.ToArray(), XShape(c), w.ToArray(), WeightShape(c), bias.ToArray(), Geometry(c)), y.ToArray(), 1e-4, "output");
        var dy = Tensor.Randn(generator, y.Shape);
        var grads = NormSharp.Autograd.Gradients.Of(y, [x, w], dy);
        var expected = ReferenceConv.Backward(x.ToArray(), XShape(c), w.ToArray(), WeightShape(c), dy.ToArray(), Geometry(c));
        ReferenceConv.AssertClose(expected.GradInput, grads[0].ToArray(), 1e-4, "gradInput");
        ReferenceConv.AssertClose(expected.GradWeight, grads[1].ToArray(), 1e-4, "gradWeight");
    }

    [Fact]
    public void An_empty_batch_gives_an_empty_output_and_gradients()
    {
        var x = Tensor.Zeros(0, 64, 5, 5);
        var w = Tensor.Randn(new Generator(3), 64, 64, 3, 3);
        x.RequiresGrad = w.RequiresGrad = true;
        var y = NormSharp.Functional.F.Conv2d(x, w, null, 1, 1);
        Assert.Equal([0, 64, 5, 5], y.Shape);
        var grads = NormSharp.Autograd.Gradients.Of(y, [x, w], Tensor.Zeros(0, 64, 5, 5));
        Assert.Equal([0, 64, 5, 5], grads[0].Shape);
        Assert.All(grads[1].ToArray(), value => Assert.Equal(0f, value));
    }

    private static ReferenceConv.Geometry Geometry(Case c) => new(1, 1, c.Padding, c.Padding, 1, 1, 1);

    private static int[] XShape(Case c) => [c.Batch, c.Channels, c.Height, c.Width];

    private static int[] WeightShape(Case c) => [c.OutChannels, c.Channels, 3, 3];
}
