using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>
/// Winograd's F(2x2, 3x3) and F(4x4, 3x3) convolutions against the direct reference convolution, forward and as the
/// input gradient (the flipped, transposed filters), at every multiply-add width this machine runs: output sizes that
/// are and are not multiples of the tile, paddings 0-3, channel counts that leave partial strips, blocks of one tile row
/// and blocks spanning samples, and rows wide enough for each of the stride-4 image's copy paths.
/// </summary>
public class WinogradConvTests
{
    public sealed record Case(int Batch, int Channels, int Height, int Width, int OutChannels, int Padding);

    private static readonly Case[] Shapes =
    [
        new(2, 8, 8, 8, 8, 1),       // 8x8: 16 or 4 tiles a sample, blocks of two or eight samples
        new(3, 9, 7, 5, 13, 1),      // odd output: last tiles partly junk; 13 outputs: strips of 12 + 1
        new(1, 16, 28, 28, 16, 1),   // rows of 28: one 32-float step would overrun, two 16-float steps overlap
        new(2, 10, 9, 11, 8, 0),     // no padding: 7x9 outputs
        new(2, 8, 6, 7, 20, 2),      // padding 2: 8x9 outputs
        new(1, 11, 5, 5, 9, 3),      // padding beyond the kernel
        new(2, 12, 3, 3, 8, 0),      // one output: one tile, the rest junk
        new(1, 8, 4, 70, 12, 1),     // rows of 70: blocks end inside rows; 32-float steps, the last overlapping
        new(2, 70, 6, 6, 40, 1),     // 70 channels: depth past one strip of the products
        new(2, 33, 57, 9, 17, 1),    // many tile rows, block boundaries inside samples
        new(1, 330, 4, 5, 8, 1),     // depth 330: the products in two depth blocks, the second adding to the first
        new(3, 32, 32, 32, 32, 1),   // rows of 32: one 32-float step
        new(2, 5, 6, 19, 7, 1),      // rows of 19: 16-float steps, the last overlapping
    ];

    public static TheoryData<Case, int> Cases()
    {
        var data = new TheoryData<Case, int>();
        foreach (var shape in Shapes)
        {
            data.Add(shape, 2);
            data.Add(shape, 4);
        }
        return data;
    }

    private static readonly SimdWidth[] Widths = [.. new[] { SimdWidth.Scalar, SimdWidth.Vector256, SimdWidth.Vector512 }.Where(Simd.IsSupported)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_matches_the_direct_convolution(Case c, int tileSize)
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
            using (var transformed = WinogradConv.TransformWeight(tileSize, w, 0, c.OutChannels, c.Channels, flipped: false))
            {
                WinogradConv.Forward(x, 0, c.Batch, window, transformed, bias, y, 0, width);
            }
            Assert.Equal(42f, y[^1]);
            ReferenceConv.AssertCloseToScale(expected, y[..^1], 1e-4, $"F({tileSize}x{tileSize}) output at {width}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Flipped_filters_give_the_input_gradient(Case c, int tileSize)
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
            using (var transformed = WinogradConv.TransformWeight(tileSize, w, 0, c.Channels, c.OutChannels, flipped: true))
            {
                WinogradConv.Forward(dy, 0, c.Batch, transposed, transformed, null, gradInput, 0, width);
            }
            ReferenceConv.AssertCloseToScale(expected, gradInput, 1e-4, $"F({tileSize}x{tileSize}) gradInput at {width}");
        }
    }

    [Fact]
    public void Takes_4x4_tiles_from_32_channels_on_wide_outputs_and_2x2_tiles_from_64_channels_on_narrower_ones()
    {
        var wide = new Window2d(32, 32, 3, 3, 1, 1, 1, 1);
        var narrow = new Window2d(8, 8, 3, 3, 1, 1, 1, 1);
        Assert.Equal(4, WinogradConv.TileSize(wide, 1, 32, 32));
        Assert.Equal(4, WinogradConv.TileSize(wide with { Width = 25 }, 1, 256, 64));
        Assert.Equal(2, WinogradConv.TileSize(wide with { Width = 24 }, 1, 64, 64));
        Assert.Equal(0, WinogradConv.TileSize(wide, 1, 16, 32));
        Assert.Equal(0, WinogradConv.TileSize(wide, 1, 32, 16));
        Assert.Equal(2, WinogradConv.TileSize(narrow, 1, 64, 64));
        Assert.Equal(2, WinogradConv.TileSize(narrow with { PaddingHeight = 0 }, 1, 128, 64));
        Assert.Equal(0, WinogradConv.TileSize(narrow, 1, 32, 64));
        Assert.Equal(0, WinogradConv.TileSize(narrow, 1, 64, 32));
        foreach (var window in new[] { wide, narrow })
        {
            Assert.Equal(0, WinogradConv.TileSize(window, 2, 128, 128));
            Assert.Equal(0, WinogradConv.TileSize(window with { StrideHeight = 2 }, 1, 128, 128));
            Assert.Equal(0, WinogradConv.TileSize(window with { DilationWidth = 2 }, 1, 128, 128));
            Assert.Equal(0, WinogradConv.TileSize(window with { KernelWidth = 5 }, 1, 128, 128));
        }
    }

    [Theory]
    [InlineData(64, 9, 10)]    // F(2x2)
    [InlineData(32, 6, 30)]    // F(4x4)
    public void Conv2d_takes_this_path_forward_and_for_the_input_gradient(int channels, int height, int width)
    {
        var c = new Case(3, channels, height, width, channels, 1);
        var generator = new Generator(channels);
        var x = Tensor.Randn(generator, XShape(c));
        var w = Tensor.Randn(generator, WeightShape(c));
        var bias = Tensor.Randn(generator, c.OutChannels);
        x.RequiresGrad = w.RequiresGrad = bias.RequiresGrad = true;
        var y = NormSharp.Functional.F.Conv2d(x, w, bias, 1, 1);
        ReferenceConv.AssertCloseToScale(
            ReferenceConv.Forward(x.ToArray(), XShape(c), w.ToArray(), WeightShape(c), bias.ToArray(), Geometry(c)), y.ToArray(), 1e-4, "output");
        var dy = Tensor.Randn(generator, y.Shape);
        var grads = NormSharp.Autograd.Gradients.Of(y, [x, w], dy);
        var expected = ReferenceConv.Backward(x.ToArray(), XShape(c), w.ToArray(), WeightShape(c), dy.ToArray(), Geometry(c));
        ReferenceConv.AssertCloseToScale(expected.GradInput, grads[0].ToArray(), 1e-4, "gradInput");
        ReferenceConv.AssertClose(expected.GradWeight, grads[1].ToArray(), 1e-4, "gradWeight");
    }

    [Theory]
    [InlineData(64, 5)]
    [InlineData(32, 30)]
    public void An_empty_batch_gives_an_empty_output_and_gradients(int channels, int size)
    {
        var x = Tensor.Zeros(0, channels, size, size);
        var w = Tensor.Randn(new Generator(3), channels, channels, 3, 3);
        x.RequiresGrad = w.RequiresGrad = true;
        var y = NormSharp.Functional.F.Conv2d(x, w, null, 1, 1);
        Assert.Equal([0, channels, size, size], y.Shape);
        var grads = NormSharp.Autograd.Gradients.Of(y, [x, w], Tensor.Zeros(0, channels, size, size));
        Assert.Equal([0, channels, size, size], grads[0].Shape);
        Assert.All(grads[1].ToArray(), value => Assert.Equal(0f, value));
    }

    private static ReferenceConv.Geometry Geometry(Case c) => new(1, 1, c.Padding, c.Padding, 1, 1, 1);

    private static int[] XShape(Case c) => [c.Batch, c.Channels, c.Height, c.Width];

    private static int[] WeightShape(Case c) => [c.OutChannels, c.Channels, 3, 3];
}
