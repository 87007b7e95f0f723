using NormSharp.Functional;
using NormSharp.Nn;

namespace NormSharp.Tests;

public class DropoutTests
{
    [Fact]
    public void Eval_mode_is_the_identity()
    {
        var dropout = new Dropout(0.5, new Generator(1));
        var x = Tensor.Randn(new Generator(2), 4, 5);
        dropout.Eval();
        Assert.Same(x, dropout.Forward(x));
        Assert.Same(x, F.Dropout(x, 0.3, training: false));
    }

    [Fact]
    public void Training_mask_drops_a_fraction_p_and_scales_survivors()
    {
        const double p = 0.3;
        const int count = 100_000;
        var y = F.Dropout(Tensor.Ones(count), p, training: true, new Generator(7)).ToArray();
        float scale = 1f / (float)(1 - p);
        int dropped = 0;
        foreach (float v in y)
        {
            Assert.True(v == 0f || v == scale, $"dropout output {v} is neither 0 nor 1/(1-p) = {scale}");
            dropped += v == 0f ? 1 : 0;
        }
        // Binomial(count, p): standard deviation √(count·p·(1−p)) ≈ 145; allow 5 of them.
        double sigma = Math.Sqrt(count * p * (1 - p));
        Assert.InRange(dropped, count * p - 5 * sigma, count * p + 5 * sigma);
        // Inverted dropout keeps the expected value: mean ≈ 1.
        Assert.InRange(y.Average(v => (double)v), 0.99, 1.01);
    }

    [Fact]
    public void Gradient_is_upstream_times_mask_times_scale()
    {
        const double p = 0.4;
        var x = GradCheck.RandomLeaf(3, 6, 7);
        var y = F.Dropout(x, p, training: true, new Generator(11));
        var upstream = Tensor.Randn(new Generator(12), 6, 7);
        y.Backward(upstream);
        var xs = x.ToArray();
        var ys = y.ToArray();
        var g = upstream.ToArray();
        var grad = x.Grad!.ToArray();
        float scale = 1f / (float)(1 - p);
        int kept = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            bool isKept = ys[i] != 0f;
            kept += isKept ? 1 : 0;
            Assert.Equal(isKept ? xs[i] * scale : 0f, ys[i]);
            Assert.Equal(isKept ? g[i] * scale : 0f, grad[i]);
        }
        Assert.InRange(kept, 1, xs.Length - 1);
    }

    [Fact]
    public void Same_seed_gives_same_mask_and_module_draws_fresh_masks()
    {
        var x = Tensor.Ones(64);
        Assert.Equal(F.Dropout(x, 0.5, true, new Generator(5)).ToArray(), F.Dropout(x, 0.5, true, new Generator(5)).ToArray());
        var dropout = new Dropout(0.5, new Generator(5));
        Assert.NotEqual(dropout.Forward(x).ToArray(), dropout.Forward(x).ToArray());
    }

    [Fact]
    public void Extreme_probabilities()
    {
        var x = Tensor.Randn(new Generator(1), 10);
        Assert.Same(x, F.Dropout(x, 0));
        Assert.All(F.Dropout(x, 1, generator: new Generator(2)).ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Probability_outside_unit_interval_is_rejected(double p)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(p));
        Assert.Contains(p.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => F.Dropout(Tensor.Zeros(2), p));
    }
}
