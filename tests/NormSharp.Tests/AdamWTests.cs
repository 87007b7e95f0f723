using NormSharp.Optim;

namespace NormSharp.Tests;

public class AdamWTests
{
    [Theory]
    [InlineData(1e-3, 0.9, 0.999, 1e-8, 1e-2)]
    [InlineData(0.1, 0.9, 0.999, 1e-8, 0.5)]
    [InlineData(0.05, 0.8, 0.99, 1e-3, 0.0)]
    public void First_three_steps_match_pytorch_update_rule_in_double(double lr, double beta1, double beta2, double eps, double weightDecay)
    {
        var problem = new TinyProblem();
        var optimizer = new AdamW(problem.Parameters, lr, beta1, beta2, eps, weightDecay);
        var expected = AdamTests.Reference(lr, beta1, beta2, eps, weightDecay, decoupled: true, steps: 3);
        for (int step = 0; step < 3; step++)
        {
            problem.ComputeGradients();
            optimizer.Step();
            TinyProblem.AssertClose(expected[step], problem.Values(), 1e-6, $"step {step + 1}");
        }
    }

    [Fact]
    public void Decoupled_decay_differs_from_l2_decay_and_defaults_to_one_hundredth()
    {
        var decoupled = new TinyProblem();
        var coupled = new TinyProblem();
        var adamW = new AdamW(decoupled.Parameters, lr: 0.1, weightDecay: 0.5);
        var adam = new Adam(coupled.Parameters, lr: 0.1, weightDecay: 0.5);
        for (int step = 0; step < 3; step++)
        {
            decoupled.ComputeGradients();
            coupled.ComputeGradients();
            adamW.Step();
            adam.Step();
        }
        Assert.NotEqual(decoupled.Values(), coupled.Values());
        Assert.Equal(1e-2, new AdamW(new TinyProblem().Parameters).WeightDecay);
    }
}
