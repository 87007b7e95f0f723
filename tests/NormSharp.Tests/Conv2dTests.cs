using NormSharp.Functional;
using NormSharp.Nn;

namespace NormSharp.Tests;

public class Conv2dTests
{
    public sealed record Case(
        int Batch, int Channels, int Height, int Width, int OutChannels, int KernelHeight, int KernelWidth,
        int Stride, int Padding, int Dilation, int Groups, bool HasBias);

    public static TheoryData<Case> Configurations => new()
    {
        new(2, 3, 7, 6, 4, 3, 3, 1, 0, 1, 1, true),    // plain 3x3
        new(2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, false),   // same padding, no bias
        new(1, 2, 9, 8, 3, 3, 2, 2, 1, 1, 1, true),    // stride 2, non-square kernel
        new(2, 2, 9, 11, 3, 3, 3, 1, 2, 2, 1, true),   // dilation 2
        new(3, 4, 5, 5, 6, 1, 1, 1, 0, 1, 1, true),    // 1x1: columns are the input
        new(2, 4, 6, 7, 6, 3, 3, 2, 1, 1, 2, true),    // two groups
        new(2, 3, 6, 6, 3, 3, 3, 1, 1, 1, 3, false),   // depthwise
        new(1, 1, 5, 4, 2, 5, 4, 3, 0, 1, 1, true),    // kernel covers the whole image
        new(4, 8, 16, 16, 16, 3, 3, 1, 1, 1, 1, true), // large enough to run samples in parallel
        new(4, 8, 12, 12, 8, 3, 3, 1, 1, 1, 2, true),  // two groups, samples in parallel (weight gradients per range)
        new(1, 32, 32, 32, 64, 3, 3, 1, 1, 1, 1, false), // one sample: its output rows are split between threads
        new(2, 3, 6, 7, 4, 3, 3, 1, 3, 1, 1, true),    // padding beyond the kernel: the sub-pixel input gradient
        new(2, 16, 9, 9, 24, 3, 3, 2, 1, 1, 1, false), // stride 2 at more channels: sub-pixel input gradient, threaded
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Forward_and_backward_match_direct_reference(Case c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var (batch, channels, height, width, outChannels, kernelHeight, kernelWidth, stride, padding, dilation, groups, hasBias) = c;
        var generator = new Generator(batch * 100 + channels * 10 + height);
        var x = Tensor.Randn(generator, batch, channels, height, width);
        var w = Tensor.Randn(generator, outChannels, channels / groups, kernelHeight, kernelWidth);
        var b = hasBias ? Tensor.Randn(generator, outChannels) : null;
        x.RequiresGrad = true;
        w.RequiresGrad = true;
        var geometry = new ReferenceConv.Geometry(stride, stride, padding, padding, dilation, dilation, groups);

        var y = F.Conv2d(x, w, b, stride, padding, dilation, groups);

        var expected = ReferenceConv.Forward(x.ToArray(), x.Shape, w.ToArray(), w.Shape, b?.ToArray(), geometry);
        var (outH, outW) = ReferenceConv.OutSize(x.Shape, w.Shape, geometry);
        Assert.Equal(new[] { batch, outChannels, outH, outW }, y.Shape);
        // The output and the input gradient to the outputs' scale: at 32 channels and more, a 3x3 stride-1 convolution
        // runs as Winograd's F(4x4, 3x3), whose rounding grows with that scale.
        ReferenceConv.AssertCloseToScale(expected, y.ToArray(), 1e-4, "output");

        var upstream = Tensor.Randn(generator, y.Shape);
        y.Backward(upstream);
        var (gradInput, gradWeight) = ReferenceConv.Backward(x.ToArray(), x.Shape, w.ToArray(), w.Shape, upstream.ToArray(), geometry);
        ReferenceConv.AssertCloseToScale(gradInput, x.Grad!.ToArray(), 1e-4, "gradInput");
        ReferenceConv.AssertClose(gradWeight, w.Grad!.ToArray(), 1e-4, "gradWeight");
    }

    [Theory]
    [InlineData(1, 0, 1, true)]
    [InlineData(1, 1, 1, false)]
    [InlineData(2, 1, 1, true)]
    [InlineData(1, 2, 2, true)]
    [InlineData(2, 0, 2, false)]
    public void Gradients_match_finite_differences(int stride, int padding, int dilation, bool hasBias)
    {
        var x = GradCheck.RandomLeaf(1, 2, 3, 7, 6);
        var w = GradCheck.RandomLeaf(2, 4, 3, 3, 2);
        var b = GradCheck.RandomLeaf(3, 4);
        Tensor[] inputs = hasBias ? [x, w, b] : [x, w];
        GradCheck.Check(t => F.Conv2d(t[0], t[1], hasBias ? t[2] : null, stride, padding, dilation), inputs, seed: stride * 10 + padding);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Only_the_gradients_asked_for_are_computed(bool inputGrad, bool weightGrad)
    {
        // A frozen weight (fine-tuning) or a frozen input: the other gradient still matches the reference.
        var generator = new Generator(41);
        var x = Tensor.Randn(generator, 4, 8, 10, 10);
        var w = Tensor.Randn(generator, 8, 8, 3, 3);
        x.RequiresGrad = inputGrad;
        w.RequiresGrad = weightGrad;
        var geometry = new ReferenceConv.Geometry(1, 1, 1, 1, 1, 1, 1);
        var y = F.Conv2d(x, w, null, 1, 1);
        var upstream = Tensor.Randn(generator, y.Shape);
        y.Backward(upstream);
        var (gradInput, gradWeight) = ReferenceConv.Backward(x.ToArray(), x.Shape, w.ToArray(), w.Shape, upstream.ToArray(), geometry);
        if (inputGrad)
        {
            ReferenceConv.AssertClose(gradInput, x.Grad!.ToArray(), 1e-4, "gradInput");
            Assert.Null(w.Grad);
        }
        else
        {
            ReferenceConv.AssertClose(gradWeight, w.Grad!.ToArray(), 1e-4, "gradWeight");
            Assert.Null(x.Grad);
        }
    }

    [Fact]
    public void Grouped_gradients_match_finite_differences()
    {
        var x = GradCheck.RandomLeaf(4, 2, 4, 5, 5);
        var w = GradCheck.RandomLeaf(5, 6, 2, 2, 3);
        var b = GradCheck.RandomLeaf(6, 6);
        GradCheck.Check(t => F.Conv2d(t[0], t[1], t[2], stride: (2, 1), padding: (1, 0), groups: 2), [x, w, b]);
    }

    [Fact]
    public void Pair_arguments_select_height_and_width_separately()
    {
        var generator = new Generator(11);
        var conv = new Conv2d(2, 3, kernelSize: (3, 1), stride: (2, 1), padding: (1, 0), dilation: (1, 2), generator: generator);
        var x = Tensor.Randn(generator, 2, 2, 7, 5);
        var y = conv.Forward(x);
        var geometry = new ReferenceConv.Geometry(2, 1, 1, 0, 1, 2, 1);
        var expected = ReferenceConv.Forward(x.ToArray(), x.Shape, conv.Weight.ToArray(), conv.Weight.Shape, conv.Bias!.ToArray(), geometry);
        Assert.Equal(new[] { 2, 3, 4, 5 }, y.Shape);
        ReferenceConv.AssertClose(expected, y.ToArray(), 1e-4, "output");
        Assert.Equal(new Size2d(3, 1), conv.KernelSize);
        Assert.Equal(new Size2d(2, 1), conv.Stride);
    }

    [Fact]
    public void Unbatched_input_gives_unbatched_output()
    {
        var conv = new Conv2d(3, 5, 3, padding: 1, generator: new Generator(1));
        var x = Tensor.Randn(new Generator(2), 3, 6, 4);
        var single = conv.Forward(x);
        var batched = conv.Forward(x.Reshape(1, 3, 6, 4));
        Assert.Equal(new[] { 5, 6, 4 }, single.Shape);
        Assert.Equal(batched.ToArray(), single.ToArray());
    }

    [Fact]
    public void Default_initialization_is_uniform_within_one_over_sqrt_fan_in()
    {
        var conv = new Conv2d(8, 16, 3, groups: 2, generator: new Generator(5));
        Assert.Equal(new[] { 16, 4, 3, 3 }, conv.Weight.Shape);
        double bound = 1 / Math.Sqrt(4 * 3 * 3);
        var weights = conv.Weight.ToArray();
        Assert.All(weights, v => Assert.InRange(v, -bound, bound));
        Assert.All(conv.Bias!.ToArray(), v => Assert.InRange(v, -bound, bound));
        // Spread over the whole interval, not collapsed near zero: the sample standard deviation of U(-b, b) is b/√3.
        double mean = weights.Average(v => (double)v);
        double std = Math.Sqrt(weights.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(std, 0.8 * bound / Math.Sqrt(3), 1.2 * bound / Math.Sqrt(3));
        Assert.Equal(new[] { "weight", "bias" }, conv.NamedParameters().Select(p => p.Key));
        Assert.Null(new Conv2d(1, 1, 1, bias: false).Bias);
    }

    [Fact]
    public void Channel_mismatch_names_expected_and_actual_channels()
    {
        var conv = new Conv2d(3, 8, 3);
        var ex = Assert.Throws<ArgumentException>(() => conv.Forward(Tensor.Zeros(2, 4, 8, 8)));
        Assert.Contains("3 channels", ex.Message, StringComparison.Ordinal);
        Assert.Contains("got 4 channels", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[2, 4, 8, 8]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_rank_names_the_shape()
    {
        var conv = new Conv2d(3, 8, 3);
        var ex = Assert.Throws<ArgumentException>(() => conv.Forward(Tensor.Zeros(8, 8)));
        Assert.Contains("4-D [N, C, H, W]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("2-D shape [8, 8]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kernel_larger_than_padded_input_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => F.Conv2d(Tensor.Zeros(1, 1, 2, 2), Tensor.Zeros(1, 1, 3, 3)));
        Assert.Contains("[3, 3]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[1, 1, 2, 2]", ex.Message, StringComparison.Ordinal);
        Assert.Equal(new[] { 1, 1, 2, 2 }, F.Conv2d(Tensor.Zeros(1, 1, 2, 2), Tensor.Zeros(1, 1, 3, 3), padding: 1).Shape);
    }

    [Fact]
    public void Invalid_configuration_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => new Conv2d(3, 8, 3, groups: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2d(3, 8, 3, stride: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => F.Conv2d(Tensor.Zeros(1, 1, 4, 4), Tensor.Zeros(1, 1, 3, 3), padding: -1));
        var ex = Assert.Throws<ArgumentException>(() => F.Conv2d(Tensor.Zeros(1, 2, 4, 4), Tensor.Zeros(2, 2, 3, 3), Tensor.Zeros(3)));
        Assert.Contains("[2]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[3]", ex.Message, StringComparison.Ordinal);
    }
}
