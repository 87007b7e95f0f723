using NormSharp.Nn;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

public class GroupNormTests
{
    private static void Randomize(GroupNorm norm, int seed)
    {
        var g = new Generator(seed);
        if (norm.Weight is not null)
        {
            g.FillNormal(norm.Weight.AsSpan(), 1, 0.5);
            g.FillNormal(norm.Bias!.AsSpan());
        }
    }

    [Theory]
    [InlineData(2, new[] { 2, 4, 3 })]
    [InlineData(1, new[] { 2, 4, 2, 2 })]
    [InlineData(4, new[] { 3, 4, 2, 1 })]
    [InlineData(3, new[] { 2, 6 })]
    public void Output_matches_the_naive_formula(int groups, int[] shape)
    {
        var norm = new GroupNorm(groups, shape[1]);
        Randomize(norm, 1);
        var x = Tensor.Randn(new Generator(2), shape) * 3f - 1f;
        var y = norm.Forward(x).ToArray();
        int spatial = shape.Skip(2).Aggregate(1, (a, b) => a * b);
        var normalized = NaiveRows(x.ToArray(), shape[1] / groups * spatial, 1e-5);   // a (sample, group) is a contiguous block
        var w = norm.Weight!.ToArray();
        var b = norm.Bias!.ToArray();
        var expected = normalized.Select((v, i) => v * w[ChannelOf(i, shape, 1)] + b[ChannelOf(i, shape, 1)]).ToArray();
        AssertClose(expected, y, 1e-5, "output");
    }

    [Theory]
    [InlineData(2, true)]
    [InlineData(2, false)]
    [InlineData(1, true)]
    [InlineData(4, true)]
    public void Gradients_match_finite_differences(int groups, bool affine)
    {
        var norm = new GroupNorm(groups, 4, affine: affine);
        Randomize(norm, 3);
        var x = Leaf(4, 0.5, 1.5, 2, 4, 3);
        Tensor[] inputs = affine ? [x, norm.Weight!, norm.Bias!] : [x];
        GradCheck.Check(t => norm.Forward(t[0]), inputs);
        norm.Eval();
        GradCheck.Check(t => norm.Forward(t[0]), inputs, seed: 1);
    }

    [Fact]
    public void Tiny_shape_gradients_are_correct()
    {
        // N = 1, two channels in one group, spatial 1: two values per group, the fewest training accepts.
        var norm = new GroupNorm(1, 2);
        Randomize(norm, 5);
        var x = Tensor.FromArray([0.4f, -1.1f], 1, 2, 1);
        x.RequiresGrad = true;
        GradCheck.Check(t => norm.Forward(t[0]), [x, norm.Weight!, norm.Bias!]);
    }

    [Fact]
    public void One_group_equals_layer_norm_over_channels_and_space_without_affine()
    {
        var group = new GroupNorm(1, 3, affine: false);
        var layer = new LayerNorm([3, 2, 2], elementwiseAffine: false);
        var x = Leaf(6, 2, 3, 4, 3, 2, 2);
        var upstream = Tensor.Randn(new Generator(7), x.Shape);
        var y1 = group.Forward(x);
        y1.Backward(upstream);
        var grad1 = x.Grad!.ToArray();
        x.Grad = null;
        var y2 = layer.Forward(x);
        y2.Backward(upstream);
        AssertClose(y2.ToArray(), y1.ToArray(), 1e-6, "output");
        AssertClose(x.Grad!.ToArray(), grad1, 1e-5, "gradInput");
    }

    [Fact]
    public void Channel_many_groups_equal_instance_norm()
    {
        var group = new GroupNorm(3, 3);
        var instance = new InstanceNorm2d(3, affine: true);
        Randomize(group, 8);
        group.Weight!.AsSpan().CopyTo(instance.Weight!.AsSpan());
        group.Bias!.AsSpan().CopyTo(instance.Bias!.AsSpan());
        var x = Leaf(9, -1, 2, 2, 3, 3, 2);
        var upstream = Tensor.Randn(new Generator(10), x.Shape);
        var y1 = group.Forward(x);
        y1.Backward(upstream);
        var grad1 = x.Grad!.ToArray();
        x.Grad = null;
        var y2 = instance.Forward(x);
        y2.Backward(upstream);
        AssertClose(y2.ToArray(), y1.ToArray(), 1e-6, "output");
        AssertClose(x.Grad!.ToArray(), grad1, 1e-5, "gradInput");
        AssertClose(instance.Weight.Grad!.ToArray(), group.Weight.Grad!.ToArray(), 1e-5, "gradWeight");
        AssertClose(instance.Bias.Grad!.ToArray(), group.Bias.Grad!.ToArray(), 1e-5, "gradBias");
    }

    [Fact]
    public void Groups_not_dividing_channels_throw_naming_both()
    {
        var ex = Assert.Throws<ArgumentException>(() => new GroupNorm(3, 8));
        Assert.Contains("numChannels (8) must be divisible by numGroups (3)", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => Functional.F.GroupNorm(Tensor.Zeros(2, 8, 3), 3));
        Assert.Contains("divisible by numGroups (3), got 8 channels", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_rank_and_channel_count_throw_naming_expected_and_actual()
    {
        var norm = new GroupNorm(2, 4);
        var ex = Assert.Throws<ArgumentException>(() => norm.Forward(Tensor.Zeros(4)));
        Assert.Contains("got 1-D input of shape [4]", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => norm.Forward(Tensor.Zeros(2, 6, 3)));
        Assert.Contains("GroupNorm expected 4 channels (numChannels) along axis 1, got 6 in input of shape [2, 6, 3]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void One_value_per_group_throws_like_PyTorch()
    {
        var norm = new GroupNorm(2, 2);
        var ex = Assert.Throws<ArgumentException>(() => norm.Forward(Tensor.Zeros(1, 2)));
        Assert.Contains("Expected more than 1 value per channel when training, got input size [1, 2]", ex.Message, StringComparison.Ordinal);
    }
}
