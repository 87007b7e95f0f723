using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>
/// The implicit-GEMM convolution (ConvImage + ImplicitGemm tiles) at every SIMD width this machine runs, against the
/// direct reference convolution: odd sizes, strides 1-3, dilation, padding beyond the kernel, groups, channel counts
/// that leave partial 6- and 12-row strips and partial 16/32-column tiles.
/// </summary>
public class ImplicitConvTests
{
    public sealed record Case(int Batch, int Channels, int Height, int Width, int OutChannels, int KernelHeight, int KernelWidth,
        int StrideHeight, int StrideWidth, int Padding, int Dilation, int Groups);

    public static TheoryData<Case> Cases => new()
    {
        new(2, 3, 7, 5, 5, 3, 3, 1, 1, 1, 1, 1),
        new(1, 4, 9, 13, 7, 3, 3, 2, 2, 1, 1, 1),
        new(3, 2, 11, 10, 13, 3, 2, 3, 2, 2, 1, 1),
        new(2, 5, 8, 9, 6, 3, 3, 1, 1, 2, 2, 1),
        new(2, 4, 6, 6, 8, 1, 1, 2, 2, 0, 1, 2),
        new(1, 6, 5, 7, 9, 3, 3, 1, 1, 3, 1, 3),
        new(2, 17, 4, 3, 33, 2, 3, 1, 1, 1, 1, 1),
        new(1, 70, 6, 6, 40, 3, 3, 1, 1, 1, 1, 1),   // depth 630: one block; 1 sample
        new(2, 90, 5, 4, 7, 3, 3, 1, 1, 1, 1, 1),    // depth 810: two depth blocks
        new(3, 1, 9, 7, 16, 3, 3, 1, 1, 1, 1, 1),    // one input channel: depth 9 < 16 outputs, unfolded weight gradient
        new(2, 2, 8, 8, 12, 3, 3, 2, 2, 1, 1, 2),    // groups with fewer column rows than outputs, strided
        new(2, 5, 7, 6, 20, 3, 3, 1, 1, 1, 1, 1),    // depth 45: weight-gradient tiles of 12, 12, 12 and 9 rows in triples
        new(2, 5, 6, 7, 11, 3, 3, 1, 1, 1, 1, 1),    // the same over 16 columns (at most 16 output channels)
        new(2, 3, 9, 37, 10, 3, 3, 2, 2, 1, 1, 1),   // stride 2 over rows of 37: vector column-phase split and its tail
        new(1, 4, 6, 20, 8, 1, 1, 2, 2, 0, 1, 1),    // 1x1 stride 2: one column phase of two is read
        new(1, 2, 5, 33, 6, 3, 3, 2, 2, 2, 1, 1),    // stride 2, padding 2: even columns to phase 0 at column 1
        new(2, 6, 5, 7, 10, 1, 1, 1, 1, 0, 1, 1),    // 1x1 stride 1: no junk positions, each channel's rows are one run
    };

    private static readonly SimdWidth[] Widths = [.. new[] { SimdWidth.Scalar, SimdWidth.Vector256, SimdWidth.Vector512 }.Where(Simd.IsSupported)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_and_weight_gradient_match_the_direct_convolution(Case c)
    {
        ArgumentNullException.ThrowIfNull(c);
        foreach (var width in Widths)
        {
            ForwardAndWeightGradient(width, c);
        }
    }

    private static void ForwardAndWeightGradient(SimdWidth width, Case c)
    {
        var generator = new Generator(c.Channels * 31 + c.Height);
        var (x, w, window, geometry) = Problem(c, generator, c.StrideHeight, c.StrideWidth);
        var bias = Tensor.Randn(generator, c.OutChannels).ToArray();
        var layout = new ConvImage(window, c.Channels);

        var y = new float[c.Batch * c.OutChannels * window.OutPlane];
        using (var packed = ImplicitConv.PackWeight(w, c.Groups, c.OutChannels / c.Groups, w.Length / c.OutChannels))
        {
            ImplicitConv.Forward(x, 0, c.Batch, layout, packed, bias, y, 0, width);
        }
        ReferenceConv.AssertClose(ReferenceConv.Forward(x, XShape(c), w, WeightShape(c), bias, geometry), y, 1e-4, $"output at {width}");

        var dy = Tensor.Randn(generator, c.Batch, c.OutChannels, window.OutHeight, window.OutWidth).ToArray();
        var gradWeight = new float[w.Length];
        ImplicitConv.WeightGradient(x, 0, dy, 0, c.Batch, layout, c.Groups, c.OutChannels, gradWeight, width);
        ReferenceConv.AssertClose(ReferenceConv.Backward(x, XShape(c), w, WeightShape(c), dy, geometry).GradWeight, gradWeight, 1e-4, $"gradWeight at {width}");
    }

    // Random x and weight of the case, and its window and reference geometry at the given strides.
    private static (float[] X, float[] Weight, Window2d Window, ReferenceConv.Geometry Geometry) Problem(Case c, Generator generator, int strideHeight, int strideWidth)
    {
        var x = Tensor.Randn(generator, XShape(c)).ToArray();
        var w = Tensor.Randn(generator, WeightShape(c)).ToArray();
        var window = new Window2d(c.Height, c.Width, c.KernelHeight, c.KernelWidth, strideHeight, strideWidth, c.Padding, c.Padding, c.Dilation, c.Dilation);
        return (x, w, window, new ReferenceConv.Geometry(strideHeight, strideWidth, c.Padding, c.Padding, c.Dilation, c.Dilation, c.Groups));
    }

    private static int[] XShape(Case c) => [c.Batch, c.Channels, c.Height, c.Width];

    private static int[] WeightShape(Case c) => [c.OutChannels, c.Channels / c.Groups, c.KernelHeight, c.KernelWidth];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Flipped_weight_turns_a_stride_one_input_gradient_into_a_forward_convolution(Case c)
    {
        ArgumentNullException.ThrowIfNull(c);
        foreach (var width in Widths)
        {
            FlippedInputGradient(width, c);
        }
    }

    private static void FlippedInputGradient(SimdWidth width, Case c)
    {
        int padding = c.Dilation * (c.KernelHeight - 1) - c.Padding, paddingWidth = c.Dilation * (c.KernelWidth - 1) - c.Padding;
        if (padding < 0 || paddingWidth < 0)
        {
            return;   // the convolution crops: its input gradient takes the sub-pixel path (SubPixelConvTests)
        }
        var generator = new Generator(c.OutChannels * 17 + c.Width);
        var (x, w, window, geometry) = Problem(c, generator, 1, 1);
        var dy = Tensor.Randn(generator, c.Batch, c.OutChannels, window.OutHeight, window.OutWidth).ToArray();
        var transposed = new Window2d(window.OutHeight, window.OutWidth, c.KernelHeight, c.KernelWidth, 1, 1, padding, paddingWidth, c.Dilation, c.Dilation);

        var gradInput = new float[x.Length];
        using (var flipped = ImplicitConv.FlipWeight(w, c.OutChannels, c.Channels / c.Groups, c.KernelHeight * c.KernelWidth, c.Groups))
        {
            ImplicitConv.Forward(dy, 0, c.Batch, new ConvImage(transposed, c.OutChannels), flipped, null, gradInput, 0, width);
        }
        var expected = ReferenceConv.Backward(x, XShape(c), w, WeightShape(c), dy, geometry).GradInput;
        ReferenceConv.AssertClose(expected, gradInput, 1e-4, $"gradInput at {width}");
    }

    [Fact]
    public void Every_column_matrix_row_is_a_contiguous_run_of_the_image()
    {
        // columns[k, oy·outW + ox] (Im2Col.Unfold) == image[offsets[k] + oy·PhaseWidth + ox], strides 1 to 4; what Fill
        // leaves unwritten (padding, junk) must be zero, as the cleared buffer is.
        foreach (var window in new[]
        {
            new Window2d(7, 6, 3, 3, 1, 1, 1, 1), new Window2d(9, 8, 3, 2, 2, 3, 1, 2, 2, 1), new Window2d(5, 5, 2, 2, 3, 3, 0, 0),
            // Stride 1, rows copied whole: one vector (8), vectors ending in an overlapping one (13, 28), no padding.
            new Window2d(3, 8, 3, 3, 1, 1, 1, 1), new Window2d(4, 13, 3, 3, 1, 1, 0, 0), new Window2d(4, 28, 3, 3, 1, 1, 2, 2),
            new Window2d(6, 11, 3, 3, 2, 1, 1, 1),   // stride 2 down, 1 across: the general loop's whole rows
            // Stride 3 and 4, columns scattered to their phases: one at a time (rows of 10), in 16-float steps (20, the
            // last overlapping) and in 32-float steps (37, the last overlapping); paddings 0-3.
            new Window2d(8, 10, 3, 3, 3, 3, 1, 1), new Window2d(9, 10, 4, 4, 4, 4, 1, 1), new Window2d(6, 20, 4, 4, 4, 4, 0, 3),
            new Window2d(7, 37, 4, 4, 4, 4, 2, 2), new Window2d(5, 32, 4, 4, 4, 4, 1, 1),
        })
        {
            const int channels = 3;
            var sample = Tensor.Randn(new Generator(5), channels, window.Height, window.Width).ToArray();
            var columns = new float[channels * window.KernelArea * window.OutPlane];
            Im2Col.Unfold(sample, channels, window, columns);
            var layout = new ConvImage(window, channels);
            var image = new float[layout.Length];
            layout.Fill(sample, image);
            for (int k = 0; k < channels * window.KernelArea; k++)
            {
                for (int oy = 0; oy < window.OutHeight; oy++)
                {
                    for (int ox = 0; ox < window.OutWidth; ox++)
                    {
                        Assert.Equal(columns[k * window.OutPlane + oy * window.OutWidth + ox], image[layout.Offsets[k] + oy * layout.PhaseWidth + ox]);
                    }
                }
            }
        }
    }
}
