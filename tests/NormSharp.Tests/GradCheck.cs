using NormSharp.Autograd;

namespace NormSharp.Tests;

/// <summary>
/// Gradient checks by central differences. The loss is L = Σ f(inputs) · g with a random upstream
/// gradient g (never all ones: for a normalization layer Σ y is constant, so an all-ones check
/// passes even when the input gradient is wrong). The forward runs in float32, as the library does;
/// the loss, the differences and the comparison are in double. With inputs of order 1, step 1e-2
/// keeps both truncation (~h²) and float rounding (~1e-7·|L|/h) far below the tolerance, while a
/// missing or wrong term in a backward shows up as an error of order 1.
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// Compares autograd's gradient of every input with RequiresGrad against central differences;
    /// fails with the input, element, and both values of the worst mismatch.
    /// Returns the largest error relative to max(1, |numeric|).
    /// </summary>
    public static double Check(Func<Tensor[], Tensor> function, Tensor[] inputs, int seed = 0, double step = 1e-2, double tolerance = 1e-2)
    {
        var output = function(inputs);
        var upstream = Tensor.Randn(new Generator(seed + 7919), output.Shape);
        foreach (var input in inputs)
        {
            input.Grad = null;
        }
        output.Backward(upstream);

        double worst = 0;
        for (int t = 0; t < inputs.Length; t++)
        {
            var input = inputs[t];
            if (!input.RequiresGrad)
            {
                continue;
            }
            Assert.True(input.Grad is not null, $"input {t} requires gradients but got none");
            var analytic = input.Grad!.ToArray();
            var data = input.AsSpan();
            for (int i = 0; i < data.Length; i++)
            {
                float original = data[i];
                data[i] = (float)(original + step);
                double plus = Loss(function, inputs, upstream);
                data[i] = (float)(original - step);
                double minus = Loss(function, inputs, upstream);
                data[i] = original;
                double numeric = (plus - minus) / (2 * step);
                double error = Math.Abs(analytic[i] - numeric) / Math.Max(1, Math.Abs(numeric));
                worst = Math.Max(worst, error);
                Assert.True(error <= tolerance,
                    $"gradient of input {t} (shape [{string.Join(", ", input.Shape)}]) at element {i}: autograd {analytic[i]:G6}, finite differences {numeric:G6}, error {error:G3} > {tolerance:G3}");
            }
        }
        return worst;
    }

    private static double Loss(Func<Tensor[], Tensor> function, Tensor[] inputs, Tensor upstream)
    {
        using var noGrad = new NoGrad();
        var y = function(inputs).ToArray();
        var g = upstream.ToArray();
        double sum = 0;
        for (int i = 0; i < y.Length; i++)
        {
            sum += (double)y[i] * g[i];
        }
        return sum;
    }

    /// <summary>A leaf tensor of standard normal values that requires gradients.</summary>
    public static Tensor RandomLeaf(int seed, params int[] shape)
    {
        var t = Tensor.Randn(new Generator(seed), shape);
        t.RequiresGrad = true;
        return t;
    }
}
