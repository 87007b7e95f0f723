using NormSharp.Optim;

namespace NormSharp.Tests;

public class SGDTests
{
    [Theory]
    [InlineData(0.1, 0.0, 0.0, 0.0, false)]    // plain
    [InlineData(0.1, 0.9, 0.1, 0.0, false)]    // momentum with dampening
    [InlineData(0.1, 0.9, 0.0, 0.0, true)]     // nesterov
    [InlineData(0.1, 0.0, 0.0, 0.05, false)]   // weight decay
    [InlineData(0.05, 0.8, 0.2, 0.01, false)]  // everything but nesterov
    [InlineData(0.1, 0.9, 0.0, 0.01, true)]    // nesterov with weight decay
    public void First_three_steps_match_pytorch_update_rule_in_double(double lr, double momentum, double dampening, double weightDecay, bool nesterov)
    {
        var problem = new TinyProblem();
        var optimizer = new SGD(problem.Parameters, lr, momentum, dampening, weightDecay, nesterov);
        // torch/optim/sgd.py, written out independently in double precision.
        var p = TinyProblem.StartValues();
        var buffer = new double[p.Length];
        for (int step = 1; step <= 3; step++)
        {
            problem.ComputeGradients();
            optimizer.Step();
            var g = TinyProblem.Gradient(p);
            for (int i = 0; i < p.Length; i++)
            {
                double d = g[i] + weightDecay * p[i];
                if (momentum != 0)
                {
                    buffer[i] = step == 1 ? d : momentum * buffer[i] + (1 - dampening) * d;
                    d = nesterov ? d + momentum * buffer[i] : buffer[i];
                }
                p[i] -= lr * d;
            }
            TinyProblem.AssertClose(p, problem.Values(), 1e-6, $"step {step}");
        }
    }

    [Fact]
    public void Momentum_hand_computed()
    {
        // loss = p²/2, gradient p, lr 0.1, momentum 0.9, starting at 1:
        // step 1: b = 1, p = 0.9; step 2: b = 0.9 + 0.9 = 1.8, p = 0.72; step 3: b = 1.62 + 0.72 = 2.34, p = 0.486.
        var p = Tensor.FromArray([1f], 1);
        p.RequiresGrad = true;
        var optimizer = new SGD([p], lr: 0.1, momentum: 0.9);
        float[] expected = [0.9f, 0.72f, 0.486f];
        foreach (float value in expected)
        {
            optimizer.ZeroGrad();
            (p * p * 0.5f).Sum().Backward();
            optimizer.Step();
            Assert.Equal(value, p.Item(), 1e-6f);
        }
        var state = optimizer.StateDict();
        Assert.Equal(["state.0.momentum_buffer"], state.Keys);
        Assert.Equal(2.34f, state["state.0.momentum_buffer"].Item(), 1e-6f);
    }

    [Fact]
    public void Parameters_without_gradient_are_left_alone()
    {
        var problem = new TinyProblem();
        var optimizer = new SGD(problem.Parameters, lr: 0.1, momentum: 0.9);
        problem.ComputeGradients();
        problem.Bias.Grad = null;
        optimizer.Step();
        Assert.Equal(TinyProblem.Start[4..], problem.Bias.ToArray());
        Assert.NotEqual(TinyProblem.Start[..4], problem.Weight.ToArray());
        Assert.Equal(["state.0.momentum_buffer"], optimizer.StateDict().Keys);
    }

    [Fact]
    public void Invalid_hyperparameters_name_the_value()
    {
        var p = new TinyProblem().Parameters;
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new SGD(p, lr: -0.5));
        Assert.Equal(-0.5, ex.ActualValue);
        Assert.Contains("-0.5", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => new SGD(p, lr: 0.1, momentum: -0.9));
        Assert.Contains("-0.9", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SGD(p, lr: 0.1, weightDecay: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SGD(p, lr: double.NaN));
        var nesterov = Assert.Throws<ArgumentException>(() => new SGD(p, lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true));
        Assert.Contains("dampening 0.1", nesterov.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new SGD(p, lr: 0.1, nesterov: true));
    }
}
