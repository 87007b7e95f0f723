using NormSharp.Optim;

namespace NormSharp.Tests;

public class RegularizationTests
{
    [Fact]
    public void L1_is_lambda_times_sum_of_absolute_values()
    {
        var a = Tensor.FromArray([1, -2, 0, 3], 2, 2);
        var b = Tensor.FromArray([-0.5f], 1);
        a.RequiresGrad = true;
        b.RequiresGrad = true;
        var penalty = Regularization.L1([a, b], 0.1);
        Assert.Empty(penalty.Shape);
        Assert.Equal(0.65f, penalty.Item(), 1e-6f);
        (penalty * 2f).Backward();
        // d/dp of 2 · 0.1 · |p| = 0.2 · sign(p), and 0 at 0.
        Assert.Equal(new float[] { 0.2f, -0.2f, 0f, 0.2f }, a.Grad!.ToArray());
        Assert.Equal(new float[] { -0.2f }, b.Grad!.ToArray());
    }

    [Fact]
    public void L1_gradient_matches_finite_differences()
    {
        // Values at least 0.05 from zero, where |p| is smooth under the finite-difference step.
        var p = GradCheck.RandomLeaf(3, 4, 5);
        var data = p.AsSpan();
        for (int i = 0; i < data.Length; i++)
        {
            data[i] += data[i] >= 0 ? 0.05f : -0.05f;
        }
        var q = GradCheck.RandomLeaf(4, 3);
        q.AsSpan()[0] = 0.5f;
        GradCheck.Check(t => Regularization.L1(t, 0.3) * 2f, [p, q], step: 1e-3);
    }

    [Fact]
    public void L1_adds_to_a_loss_and_rejects_negative_strength()
    {
        var model = new Nn.Linear(3, 2, generator: new Generator(1));
        var loss = Functional.F.MseLoss(model.Forward(Tensor.Ones(4, 3)), Tensor.Zeros(4, 2)) + Regularization.L1(model.Parameters(), 1e-2);
        loss.Backward();
        Assert.NotNull(model.Weight.Grad);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Regularization.L1(model.Parameters(), -1));
        Assert.Contains("-1", ex.Message, StringComparison.Ordinal);
    }
}
