using NormSharp.Nn;
using NormSharp.Optim;

namespace NormSharp.Tests;

public class AdamTests
{
    /// <summary>torch/optim/adam.py (amsgrad off), written out independently in double precision.</summary>
    internal static double[][] Reference(double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled, int steps)
    {
        var p = TinyProblem.StartValues();
        var m = new double[p.Length];
        var v = new double[p.Length];
        var trajectory = new double[steps][];
        for (int t = 1; t <= steps; t++)
        {
            var g = TinyProblem.Gradient(p);
            for (int i = 0; i < p.Length; i++)
            {
                if (decoupled)
                {
                    p[i] *= 1 - lr * weightDecay;
                }
                else
                {
                    g[i] += weightDecay * p[i];
                }
                m[i] = beta1 * m[i] + (1 - beta1) * g[i];
                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
                double denominator = Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(beta2, t)) + eps;
                p[i] -= lr / (1 - Math.Pow(beta1, t)) * m[i] / denominator;
            }
            trajectory[t - 1] = (double[])p.Clone();
        }
        return trajectory;
    }

    [Theory]
    [InlineData(1e-3, 0.9, 0.999, 1e-8, 0.0)]
    [InlineData(0.1, 0.9, 0.999, 1e-8, 0.0)]
    [InlineData(0.05, 0.8, 0.99, 1e-3, 0.1)]    // L2 weight decay in the gradient, a large eps
    [InlineData(0.05, 0.3, 0.5, 0.0, 0.0)]      // beta1 < 0.5 takes the other branch of lerp
    public void First_three_steps_match_pytorch_update_rule_in_double(double lr, double beta1, double beta2, double eps, double weightDecay)
    {
        var problem = new TinyProblem();
        var optimizer = new Adam(problem.Parameters, lr, beta1, beta2, eps, weightDecay);
        var expected = Reference(lr, beta1, beta2, eps, weightDecay, decoupled: false, steps: 3);
        for (int step = 0; step < 3; step++)
        {
            problem.ComputeGradients();
            optimizer.Step();
            TinyProblem.AssertClose(expected[step], problem.Values(), 1e-6, $"step {step + 1}");
        }
    }

    [Theory]
    [InlineData(0.9, 0.0, false)]
    [InlineData(0.3, 0.0, false)]    // the other branch of lerp
    [InlineData(0.9, 0.1, false)]    // L2 weight decay
    [InlineData(0.9, 0.1, true)]     // AdamW
    public void Vector_lanes_round_exactly_as_the_scalar_update(double beta1, double weightDecay, bool decoupled)
    {
        // Lengths around every vector width: whole vectors, then a scalar tail; the float formulas of Step written out here.
        const double lr = 0.01, beta2 = 0.99, eps = 1e-6;
        for (int length = 1; length <= 40; length++)
        {
            var generator = new Generator(length);
            var parameter = new Parameter(Tensor.Randn(generator, length));
            var gradients = new[] { Tensor.Randn(generator, length), Tensor.Randn(generator, length) };
            float[] p = parameter.ToArray(), m = new float[length], v = new float[length];
            Optimizer optimizer = decoupled ? new AdamW([parameter], lr, beta1, beta2, eps, weightDecay) : new Adam([parameter], lr, beta1, beta2, eps, weightDecay);
            for (int step = 1; step <= 2; step++)
            {
                parameter.Grad = gradients[step - 1];
                optimizer.Step();
                float w = (float)(1 - beta1), b2 = (float)beta2, oneMinusB2 = (float)(1 - beta2), epsilon = (float)eps, l2 = decoupled ? 0 : (float)weightDecay;
                float stepSize = (float)-(lr / (1 - Math.Pow(beta1, step))), correction = (float)Math.Sqrt(1 - Math.Pow(beta2, step));
                var g = gradients[step - 1].ToArray();
                for (int k = 0; k < length; k++)
                {
                    if (decoupled)
                    {
                        p[k] *= (float)(1 - lr * weightDecay);
                    }
                    float gk = l2 != 0 ? g[k] + l2 * p[k] : g[k];
                    m[k] = w < 0.5f ? m[k] + w * (gk - m[k]) : gk - (gk - m[k]) * (1 - w);
                    v[k] = v[k] * b2 + oneMinusB2 * gk * gk;
                    p[k] += stepSize * (m[k] / (MathF.Sqrt(v[k]) / correction + epsilon));
                }
                Assert.True(p.AsSpan().SequenceEqual(parameter.ToArray()), $"length {length}, step {step}: {string.Join(", ", p)} vs {string.Join(", ", parameter.ToArray())}");
            }
        }
    }

    [Fact]
    public void First_step_moves_each_value_by_about_lr_against_its_gradient()
    {
        // With m̂ = g and v̂ = g² after one step, the update is lr · g / (|g| + eps) ≈ lr · sign(g).
        var problem = new TinyProblem();
        var optimizer = new Adam(problem.Parameters, lr: 0.1);
        problem.ComputeGradients();
        var g = TinyProblem.Gradient(TinyProblem.StartValues());
        optimizer.Step();
        var after = problem.Values();
        for (int i = 0; i < g.Length; i++)
        {
            Assert.Equal(TinyProblem.Start[i] - 0.1 * Math.Sign(g[i]), after[i], 1e-6);
        }
    }

    [Fact]
    public void State_has_pytorch_keys_and_counts_steps()
    {
        var problem = new TinyProblem();
        var optimizer = new Adam(problem.Parameters);
        problem.ComputeGradients();
        optimizer.Step();
        optimizer.Step();
        var state = optimizer.StateDict();
        Assert.Equal(
            new[] { "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step", "state.1.exp_avg", "state.1.exp_avg_sq", "state.1.step" },
            state.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(2f, state["state.1.step"].Item());
        Assert.Equal(new[] { 2, 2 }, state["state.0.exp_avg"].Shape);
    }

    [Fact]
    public void Invalid_hyperparameters_name_the_value()
    {
        var p = new TinyProblem().Parameters;
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(p, beta1: 1.0));
        Assert.Equal(1.0, ex.ActualValue);
        Assert.Contains("beta1", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(p, beta2: -0.1));
        Assert.Contains("-0.1", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(p, lr: -1e-3));
        Assert.Contains("-0.001", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(p, eps: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(p, weightDecay: -1));
    }
}
