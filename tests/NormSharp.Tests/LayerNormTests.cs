using NormSharp.Nn;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

public class LayerNormTests
{
    private static void Randomize(LayerNorm norm, int seed)
    {
        var g = new Generator(seed);
        if (norm.Weight is not null)
        {
            g.FillNormal(norm.Weight.AsSpan(), 1, 0.5);
        }
        if (norm.Bias is not null)
        {
            g.FillNormal(norm.Bias.AsSpan());
        }
    }

    [Theory]
    [InlineData(new[] { 3, 5 }, new[] { 5 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 3, 4 })]
    [InlineData(new[] { 2, 2, 2, 3 }, new[] { 2, 2, 3 })]
    [InlineData(new[] { 4 }, new[] { 4 })]
    public void Output_matches_the_naive_formula_per_row(int[] shape, int[] normalizedShape)
    {
        var norm = new LayerNorm(normalizedShape);
        Randomize(norm, 1);
        var x = Tensor.Randn(new Generator(2), shape) * 2f + 5f;
        var y = norm.Forward(x).ToArray();
        int rowLength = normalizedShape.Aggregate(1, (a, b) => a * b);
        var normalized = NaiveRows(x.ToArray(), rowLength, 1e-5);
        var w = norm.Weight!.ToArray();
        var b = norm.Bias!.ToArray();
        var expected = normalized.Select((v, i) => v * w[i % rowLength] + b[i % rowLength]).ToArray();
        AssertClose(expected, y, 1e-5, "output");
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public void Gradients_match_finite_differences(bool elementwiseAffine, bool bias)
    {
        var norm = new LayerNorm([2, 3], elementwiseAffine: elementwiseAffine, bias: bias);
        Randomize(norm, 3);
        var x = Leaf(4, 0.5, 1.5, 3, 2, 3);
        var inputs = new List<Tensor> { x };
        if (norm.Weight is not null)
        {
            inputs.Add(norm.Weight);
        }
        if (norm.Bias is not null)
        {
            inputs.Add(norm.Bias);
        }
        GradCheck.Check(t => norm.Forward(t[0]), [.. inputs]);
        // Same in evaluation mode: layer norm has no running statistics.
        norm.Eval();
        GradCheck.Check(t => norm.Forward(t[0]), [.. inputs], seed: 1);
    }

    [Fact]
    public void Tiny_rows_of_two_elements_have_correct_gradients()
    {
        var norm = new LayerNorm([2]);
        Randomize(norm, 5);
        var x = Tensor.FromArray([0.3f, -0.9f, 1.7f, 0.4f], 2, 2);
        x.RequiresGrad = true;
        GradCheck.Check(t => norm.Forward(t[0]), [x, norm.Weight!, norm.Bias!]);
    }

    [Fact]
    public void Fused_backward_matches_the_composed_ops()
    {
        var norm = new LayerNorm([4]);
        Randomize(norm, 6);
        var x = Leaf(7, 1, 3, 3, 4);
        var upstream = Tensor.Randn(new Generator(8), 3, 4);
        var fused = norm.Forward(x);
        fused.Backward(upstream);
        var gradFused = x.Grad!.ToArray();
        var gradWeight = norm.Weight!.Grad!.ToArray();
        x.Grad = null;
        norm.ZeroGrad();

        var centered = x - x.Mean(-1, keepDim: true);
        var composed = centered / ((centered * centered).Mean(-1, keepDim: true) + 1e-5f).Sqrt() * norm.Weight + norm.Bias!;
        composed.Backward(upstream);
        AssertClose(composed.ToArray(), fused.ToArray(), 1e-5, "output");
        AssertClose(x.Grad!.ToArray(), gradFused, 1e-4, "gradInput");
        AssertClose(norm.Weight.Grad!.ToArray(), gradWeight, 1e-4, "gradWeight");
    }

    [Fact]
    public void Large_offset_rows_still_normalize()
    {
        var norm = new LayerNorm([256], eps: 1e-9, elementwiseAffine: false);
        var x = Tensor.FromArray(RandomFloats(9, 512, 1e4, 1e-2), 2, 256);
        var y = norm.Forward(x).ToArray();
        for (int r = 0; r < 2; r++)
        {
            var row = y.Skip(r * 256).Take(256).Select(v => (double)v).ToArray();
            double mean = row.Average();
            Assert.True(Math.Abs(mean) < 1e-3);
            Assert.True(Math.Abs(row.Select(v => (v - mean) * (v - mean)).Average() - 1) < 1e-3);
        }
    }

    [Fact]
    public void Wrong_trailing_shape_throws_naming_expected_and_actual()
    {
        var norm = new LayerNorm([64]);
        var ex = Assert.Throws<ArgumentException>(() => norm.Forward(Tensor.Zeros(2, 32)));
        Assert.Contains("LayerNorm expected input with shape [*, 64] (normalizedShape [64]), got input of shape [2, 32]", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => new LayerNorm([2, 3]).Forward(Tensor.Zeros(3)));
        Assert.Contains("[*, 2, 3]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parameters_have_the_normalized_shape_and_reset()
    {
        var norm = new LayerNorm([2, 3]);
        Assert.Equal([2, 3], norm.Weight!.Shape);
        Assert.Equal(["weight", "bias"], norm.NamedParameters().Select(p => p.Key));
        norm.Weight.AsSpan().Fill(5f);
        norm.ResetParameters();
        Assert.All(norm.Weight.ToArray(), v => Assert.Equal(1f, v));
        Assert.Null(new LayerNorm([3], bias: false).Bias);
    }
}
