using NormSharp.Autograd;

namespace NormSharp.Tests;

public class AutogradTests
{
    [Fact]
    public void Product_gradient_is_the_other_factor()
    {
        var a = GradCheck.RandomLeaf(1, 3);
        var b = GradCheck.RandomLeaf(2, 3);
        (a * b).Sum().Backward();
        Assert.Equal(b.ToArray(), a.Grad!.ToArray());
        Assert.Equal(a.ToArray(), b.Grad!.ToArray());
    }

    [Fact]
    public void Gradients_accumulate_across_backward_calls()
    {
        var a = GradCheck.RandomLeaf(1, 4);
        (a * 2f).Sum().Backward();
        (a * 3f).Sum().Backward();
        Assert.All(a.Grad!.ToArray(), g => Assert.Equal(5f, g));
    }

    [Fact]
    public void Reused_tensor_sums_gradients_of_each_use()
    {
        var a = GradCheck.RandomLeaf(3, 5);
        var y = a * a + a;
        y.Sum().Backward();
        var x = a.ToArray();
        var g = a.Grad!.ToArray();
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(2 * x[i] + 1, g[i], 5);
        }
    }

    [Fact]
    public void NoGrad_records_nothing()
    {
        var a = GradCheck.RandomLeaf(1, 3);
        Tensor y;
        using (new NoGrad())
        {
            y = a * 2f;
        }
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
    }

    [Fact]
    public void Backward_on_non_scalar_without_gradient_throws_naming_shape()
    {
        var a = GradCheck.RandomLeaf(1, 2, 3);
        var ex = Assert.Throws<InvalidOperationException>(() => (a * 2f).Backward());
        Assert.Contains("[2, 3]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Backward_on_non_scalar_names_expected_and_actual()
    {
        var y = GradCheck.RandomLeaf(1, 4, 2) * 3f;
        var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("one-element", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 2]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Broadcast_arithmetic_gradients_match_finite_differences()
    {
        var a = GradCheck.RandomLeaf(1, 2, 3, 4);
        var b = GradCheck.RandomLeaf(2, 3, 1);
        var c = Tensor.FromArray([1.5f, 2.5f, 3.5f, 4.5f], 4);
        c.RequiresGrad = true;
        GradCheck.Check(t => (t[0] + t[1]) * t[0] - t[1] / t[2], [a, b, c]);
    }

    [Theory]
    [InlineData("exp")]
    [InlineData("tanh")]
    [InlineData("sigmoid")]
    [InlineData("relu")]
    [InlineData("gelu")]
    [InlineData("abs")]
    [InlineData("pow")]
    public void Unary_gradients_match_finite_differences(string op)
    {
        var x = GradCheck.RandomLeaf(5, 3, 7);
        Func<Tensor, Tensor> f = op switch
        {
            "exp" => t => t.Exp(),
            "tanh" => t => t.Tanh(),
            "sigmoid" => t => t.Sigmoid(),
            "relu" => t => t.Relu(),
            "gelu" => t => t.Gelu(),
            "abs" => t => t.Abs(),
            _ => t => t.Pow(3),
        };
        GradCheck.Check(t => f(t[0]), [x], step: op is "relu" or "abs" ? 1e-3 : 1e-2);
    }

    [Fact]
    public void Log_and_sqrt_gradients_match_finite_differences()
    {
        var x = Tensor.Rand(new Generator(3), 10) + 0.5f;
        var leaf = x.Detach();
        leaf.RequiresGrad = true;
        GradCheck.Check(t => t[0].Log() + t[0].Sqrt(), [leaf], step: 1e-3);
    }

    [Fact]
    public void Reduction_and_view_gradients_match_finite_differences()
    {
        var x = GradCheck.RandomLeaf(4, 3, 4, 5);
        GradCheck.Check(t => t[0].Sum(1) * t[0].Mean(1, keepDim: true).Reshape(3, 5), [x]);
        GradCheck.Check(t => t[0].Permute(2, 0, 1).Slice(1, 3).Mean(0), [x]);
        GradCheck.Check(t => t[0][2].Transpose(0, 1).Flatten() * t[0].Sum(), [x]);
    }

    [Fact]
    public void MatMul_gradient_matches_finite_differences()
    {
        var a = GradCheck.RandomLeaf(1, 5, 7);
        var b = GradCheck.RandomLeaf(2, 7, 19);
        GradCheck.Check(t => t[0].MatMul(t[1]), [a, b]);
    }
}
