using NormSharp.Autograd;
using NormSharp.Nn;

namespace NormSharp.Tests;

public class GradientsTests
{
    [Fact]
    public void Returns_what_Backward_accumulates_and_leaves_every_Grad_alone()
    {
        var x = GradCheck.RandomLeaf(1, 6, 4, 3, 3);
        var dy = Tensor.Randn(new Generator(2), 6, 4, 3, 3);
        var layer = new BatchNorm2d(4);
        for (int i = 0; i < 4; i++)
        {
            layer.Weight!.AsSpan()[i] = 1 + 0.1f * i;
            layer.Bias!.AsSpan()[i] = -0.2f * i;
        }
        var returned = Gradients.Of(layer.Forward(x), [x, layer.Weight!, layer.Bias!], dy);
        Assert.Null(x.Grad);
        Assert.Null(layer.Weight!.Grad);
        Assert.Null(layer.Bias!.Grad);

        layer.Forward(x).Backward(dy);
        Assert.Equal(x.Grad!.ToArray(), returned[0].ToArray());
        Assert.Equal(layer.Weight.Grad!.ToArray(), returned[1].ToArray());
        Assert.Equal(layer.Bias.Grad!.ToArray(), returned[2].ToArray());
    }

    [Fact]
    public void Sums_over_every_path_for_leaves_and_intermediate_results()
    {
        var a = GradCheck.RandomLeaf(3, 5);
        var h = a * a;           // intermediate, used twice below
        var y = (h + a) * 2f + h;
        var (x, g) = (a.ToArray(), Gradients.Of(y.Sum(), [a, h]));
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(2 * (2 * x[i] + 1) + 2 * x[i], g[0].AsSpan()[i], 5);   // d/da of 2(a² + a) + a²
            Assert.Equal(3f, g[1].AsSpan()[i], 6);                                // d/dh of 2(h + a) + h
        }
        Assert.Null(a.Grad);
    }

    [Fact]
    public void The_output_itself_gets_the_upstream_gradient()
    {
        var a = GradCheck.RandomLeaf(4, 3);
        var dy = Tensor.FromArray([1f, 2f, 3f], 3);
        Assert.Equal(dy.ToArray(), Gradients.Of(a, [a], dy)[0].ToArray());
    }

    [Fact]
    public void Bad_requests_name_the_input()
    {
        var a = GradCheck.RandomLeaf(5, 3);
        var unused = GradCheck.RandomLeaf(6, 3);
        var constant = Tensor.Ones(3);
        var e1 = Assert.Throws<ArgumentException>(() => Gradients.Of((a * 2f).Sum(), [a, constant]));
        Assert.Contains("inputs[1]", e1.Message);
        Assert.Contains("does not require gradients", e1.Message);
        var e2 = Assert.Throws<InvalidOperationException>(() => Gradients.Of((a * 2f).Sum(), [unused, a]));
        Assert.Contains("inputs[0]", e2.Message);
        Assert.Contains("not used", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => Gradients.Of(a * 2f, [a], Tensor.Ones(4)));
        Assert.Contains("does not match output shape [3]", e3.Message);
        Assert.Throws<InvalidOperationException>(() => Gradients.Of(a * 2f, [a]));   // no gradient for a 3-element output
    }
}
