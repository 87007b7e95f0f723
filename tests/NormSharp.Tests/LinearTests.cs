using NormSharp.Functional;
using NormSharp.Nn;

namespace NormSharp.Tests;

public class LinearTests
{
    [Fact]
    public void Input_feature_mismatch_names_expected_and_actual()
    {
        var linear = new Linear(4, 3);
        var ex = Assert.Throws<ArgumentException>(() => linear.Forward(Tensor.Zeros(5, 6)));
        Assert.Contains("last dimension 4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[5, 6]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Gradients_match_finite_differences()
    {
        var x = GradCheck.RandomLeaf(1, 2, 3, 4);
        var w = GradCheck.RandomLeaf(2, 5, 4);
        var b = GradCheck.RandomLeaf(3, 5);
        GradCheck.Check(t => F.Linear(t[0], t[1], t[2]), [x, w, b]);
    }
}
