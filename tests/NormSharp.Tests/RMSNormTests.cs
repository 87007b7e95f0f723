using NormSharp.Nn;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

public class RMSNormTests
{
    [Fact]
    public void Output_is_x_over_root_mean_square_times_weight()
    {
        var norm = new RMSNorm([4], eps: 1e-6);
        new Generator(1).FillNormal(norm.Weight!.AsSpan(), 1, 0.5);
        var x = Tensor.Randn(new Generator(2), 3, 4) + 2f;
        var w = norm.Weight.ToArray();
        var expected = NaiveRows(x.ToArray(), 4, 1e-6, rms: true).Select((v, i) => v * w[i % 4]).ToArray();
        AssertClose(expected, norm.Forward(x).ToArray(), 1e-6, "output");
    }

    [Fact]
    public void Hand_computed_row()
    {
        // x = [3, 4]: mean square 12.5, y = x / √12.5
        var norm = new RMSNorm([2], eps: 0);
        var y = norm.Forward(Tensor.FromArray([3f, 4f], 1, 2)).ToArray();
        Assert.Equal((float)(3 / Math.Sqrt(12.5)), y[0]);
        Assert.Equal((float)(4 / Math.Sqrt(12.5)), y[1]);
    }

    [Fact]
    public void Default_eps_is_float32_machine_epsilon_as_PyTorch()
    {
        // With x = 0 the output is 0; the default matters near 0: x = 1e-4 gives 1e-4 / √(1e-8 + 2^-23).
        var norm = new RMSNorm([1]);
        Assert.Null(norm.Eps);
        var y = norm.Forward(Tensor.FromArray([1e-4f], 1, 1)).ToArray()[0];
        Assert.Equal(1e-4 / Math.Sqrt((double)1e-4f * 1e-4f + Math.Pow(2, -23)), y, 6);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Gradients_match_finite_differences(bool elementwiseAffine)
    {
        var norm = new RMSNorm([2, 3], eps: 1e-5, elementwiseAffine: elementwiseAffine);
        if (norm.Weight is not null)
        {
            new Generator(3).FillNormal(norm.Weight.AsSpan(), 1, 0.5);
        }
        var x = Leaf(4, 0.3, 1.5, 3, 2, 3);
        Tensor[] inputs = elementwiseAffine ? [x, norm.Weight!] : [x];
        GradCheck.Check(t => norm.Forward(t[0]), inputs);
    }

    [Fact]
    public void Fused_backward_matches_the_composed_ops()
    {
        var norm = new RMSNorm([5], eps: 1e-5);
        new Generator(5).FillNormal(norm.Weight!.AsSpan(), 1, 0.5);
        var x = Leaf(6, 0.5, 2, 4, 5);
        var upstream = Tensor.Randn(new Generator(7), 4, 5);
        var fused = norm.Forward(x);
        fused.Backward(upstream);
        var gradFused = x.Grad!.ToArray();
        x.Grad = null;
        var composed = x / ((x * x).Mean(-1, keepDim: true) + 1e-5f).Sqrt() * norm.Weight;
        composed.Backward(upstream);
        AssertClose(composed.ToArray(), fused.ToArray(), 1e-5, "output");
        AssertClose(x.Grad!.ToArray(), gradFused, 1e-4, "gradInput");
    }

    [Fact]
    public void Wrong_trailing_shape_throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => new RMSNorm([8]).Forward(Tensor.Zeros(2, 4)));
        Assert.Contains("RMSNorm expected input with shape [*, 8] (normalizedShape [8]), got input of shape [2, 4]", ex.Message, StringComparison.Ordinal);
    }
}
