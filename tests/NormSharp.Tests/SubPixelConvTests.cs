using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>
/// The input gradient of a strided convolution, one stride-1 convolution per stride phase of the input, against the
/// direct double-precision reference at every multiply-add width this machine runs: strides 1-4, kernels 1x1 to 5x3,
/// phases with no taps (a 1x1 kernel, a dilation of 2, a stride beyond the kernel), odd sizes, groups, depthwise.
/// </summary>
public class SubPixelConvTests
{
    public sealed record Case(
        int Batch, int Channels, int Height, int Width, int OutChannels, int KernelHeight, int KernelWidth,
        int StrideHeight, int StrideWidth, int PaddingHeight, int PaddingWidth, int Dilation = 1, int Groups = 1);

    public static TheoryData<Case> Cases => new()
    {
        new(2, 16, 12, 12, 32, 3, 3, 2, 2, 1, 1),               // a ResNet downsampling convolution
        new(3, 5, 9, 11, 7, 3, 3, 2, 2, 1, 1),                  // odd sizes: the odd column phase one shorter
        new(2, 4, 8, 8, 6, 1, 1, 2, 2, 0, 0),                   // 1x1 stride 2: three phases of four without taps
        new(1, 3, 7, 6, 4, 3, 3, 2, 2, 0, 0, Dilation: 2),      // dilation 2: odd rows and columns without taps
        new(2, 6, 10, 9, 8, 5, 3, 3, 2, 2, 1, Groups: 2),       // stride 3x2, a 5x3 kernel, two groups
        new(2, 8, 9, 9, 8, 3, 3, 2, 2, 1, 1, Groups: 8),        // depthwise
        new(1, 3, 6, 7, 4, 3, 3, 1, 1, 3, 1),                   // stride 1, padding beyond the kernel (it crops)
        new(2, 4, 6, 6, 3, 2, 2, 2, 2, 0, 0),                   // 2x2 stride 2: one tap a phase
        new(2, 4, 1, 9, 3, 3, 3, 2, 2, 1, 1),                   // one input row: the odd row phase is empty
        new(1, 20, 12, 40, 13, 3, 3, 2, 2, 1, 1),               // rows past 16 columns, 13 channels: strips of 12 + 1
        new(2, 3, 9, 9, 5, 4, 4, 2, 2, 1, 1),                   // a 4x4 kernel at stride 2 (as in upsampling)
        new(2, 3, 10, 7, 5, 3, 3, 2, 2, 2, 2),                  // padding 2: taps read beyond dy on both sides
        new(2, 3, 8, 8, 4, 3, 3, 4, 4, 0, 0),                   // stride 4 over a 3x3 kernel: phases without taps
        new(1, 40, 9, 9, 24, 3, 3, 2, 2, 1, 1),                 // depth 96 in the odd phase; threaded by phase rows
    };

    private static readonly SimdWidth[] Widths = [.. new[] { SimdWidth.Scalar, SimdWidth.Vector256, SimdWidth.Vector512 }.Where(Simd.IsSupported)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Input_gradient_matches_the_direct_convolution(Case c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var generator = new Generator(c.Channels * 17 + c.Width * 3 + c.StrideHeight);
        var window = new Window2d(c.Height, c.Width, c.KernelHeight, c.KernelWidth, c.StrideHeight, c.StrideWidth,
            c.PaddingHeight, c.PaddingWidth, c.Dilation, c.Dilation);
        int[] xShape = [c.Batch, c.Channels, c.Height, c.Width], wShape = [c.OutChannels, c.Channels / c.Groups, c.KernelHeight, c.KernelWidth];
        var x = Tensor.Randn(generator, xShape).ToArray();
        var w = Tensor.Randn(generator, wShape).ToArray();
        var dy = Tensor.Randn(generator, c.Batch, c.OutChannels, window.OutHeight, window.OutWidth).ToArray();
        var geometry = new ReferenceConv.Geometry(c.StrideHeight, c.StrideWidth, c.PaddingHeight, c.PaddingWidth, c.Dilation, c.Dilation, c.Groups);
        var expected = ReferenceConv.Backward(x, xShape, w, wShape, dy, geometry).GradInput;
        foreach (var width in Widths)
        {
            // Every element is written (NaN would survive otherwise), nothing past dx (the canary).
            var dx = new float[x.Length + 1];
            dx.AsSpan().Fill(float.NaN);
            dx[^1] = 42f;
            SubPixelConv.InputGradient(dy, 0, c.Batch, window, w, c.OutChannels, c.Channels, c.Groups, dx, 0, width);
            Assert.Equal(42f, dx[^1]);
            ReferenceConv.AssertClose(expected, dx[..^1], 1e-4, $"gradInput at {width}");
        }
    }

    [Theory]
    // 3x3, stride 2, padding 1 over 8 rows (4 outputs): even rows take the middle tap from output m; odd rows the first
    // tap from output m + 1 and the last from output m, and row 7's first tap reads output 4, one past dy.
    [InlineData(3, 2, 1, 1, "4: (1, 0) pad 0 | 4: (0, 1) (2, 0) pad 1")]
    [InlineData(1, 2, 0, 1, "4: (0, 0) pad 0 | 4: pad 0")]                       // 1x1 stride 2: odd rows get nothing
    [InlineData(3, 2, 0, 2, "4: (0, 0) (1, -1) (2, -2) pad 2 | 4: pad 0")]      // dilation 2: odd rows get nothing
    [InlineData(3, 1, 3, 1, "8: (0, 3) (1, 2) (2, 1) pad 0")]                    // stride 1, padding 3: 12 outputs, rows 1-10 read
    [InlineData(2, 3, 0, 1, "3: (0, 0) pad 0 | 3: (1, 0) pad 0 | 2: pad 0")]    // stride 3 over a 2-tap kernel: row 2 of 3 gets nothing
    [InlineData(3, 2, 2, 1, "4: (0, 1) (2, 0) pad 0 | 4: (1, 1) pad 0")]        // padding 2 (5 outputs): shifted up by one
    public void Phases_take_the_taps_that_reach_them(int kernel, int stride, int padding, int dilation, string expected)
    {
        const int size = 8;
        int outSize = (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
        var phases = SubPixelConv.Phases(size, outSize, kernel, stride, padding, dilation);
        string actual = string.Join(" | ", phases.Select(phase =>
            $"{phase.Count}:{string.Concat(phase.Taps.Select(t => $" ({t.Tap}, {t.Shift})"))} pad {phase.Padding}"));
        Assert.Equal(expected, actual);
    }
}
