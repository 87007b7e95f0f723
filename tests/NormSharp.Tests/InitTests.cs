using NormSharp.Nn;

namespace NormSharp.Tests;

public class InitTests
{
    // Weight [out=200, in=50, 3, 3]: fan_in = 450, fan_out = 1800.
    private static Tensor Weight() => Tensor.Zeros(200, 50, 3, 3);

    [Fact]
    public void Fans_follow_pytorch_for_conv_and_linear_weights()
    {
        Assert.Equal((450, 1800), Init.Fans(Weight()));
        Assert.Equal((784, 100), Init.Fans(Tensor.Zeros(100, 784)));
        var ex = Assert.Throws<ArgumentException>(() => Init.Fans(Tensor.Zeros(7)));
        Assert.Contains("[7]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KaimingUniform_with_sqrt5_is_uniform_within_one_over_sqrt_fan_in()
    {
        var w = Weight();
        Init.KaimingUniform(w, Math.Sqrt(5), new Generator(1));
        double bound = 1 / Math.Sqrt(450);
        AssertUniform(w.ToArray(), bound);
    }

    [Fact]
    public void XavierUniform_bound_uses_fan_in_plus_fan_out()
    {
        var w = Weight();
        Init.XavierUniform(w, gain: 2, generator: new Generator(2));
        AssertUniform(w.ToArray(), 2 * Math.Sqrt(6.0 / (450 + 1800)));
    }

    [Fact]
    public void KaimingNormal_and_Normal_have_the_stated_moments()
    {
        var w = Weight();
        Init.KaimingNormal(w, generator: new Generator(3));
        var (mean, std) = Moments(w.ToArray());
        Assert.InRange(mean, -0.01 * std, 0.01 * std + 1e-3);
        Assert.InRange(std, Math.Sqrt(2.0 / 450) * 0.98, Math.Sqrt(2.0 / 450) * 1.02);

        Init.Normal(w, mean: 3, std: 0.5, generator: new Generator(4));
        (mean, std) = Moments(w.ToArray());
        Assert.InRange(mean, 2.99, 3.01);
        Assert.InRange(std, 0.49, 0.51);
    }

    [Fact]
    public void Same_seed_gives_same_values_and_zeros_clears()
    {
        var a = Weight();
        var b = Weight();
        Init.ManualSeed(42);
        Init.KaimingUniform(a);
        Init.ManualSeed(42);
        Init.KaimingUniform(b);
        Assert.Equal(a.ToArray(), b.ToArray());
        Init.Zeros(a);
        Assert.All(a.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Linear_default_init_matches_pytorch_bounds()
    {
        var linear = new Linear(400, 300, generator: new Generator(5));
        AssertUniform(linear.Weight.ToArray(), 1 / Math.Sqrt(400));
        Assert.All(linear.Bias!.ToArray(), v => Assert.InRange(Math.Abs(v), 0, 1 / Math.Sqrt(400)));
    }

    // Every value within [-bound, bound], and the extremes and the variance (bound²/3) as a uniform's.
    private static void AssertUniform(float[] values, double bound)
    {
        Assert.All(values, v => Assert.InRange(Math.Abs((double)v), 0, bound * (1 + 1e-6)));
        Assert.True(values.Max() > 0.98 * bound && values.Min() < -0.98 * bound, "values do not fill the interval");
        var (_, std) = Moments(values);
        Assert.InRange(std * std, bound * bound / 3 * 0.95, bound * bound / 3 * 1.05);
    }

    private static (double Mean, double Std) Moments(float[] values)
    {
        double mean = values.Average(v => (double)v);
        double variance = values.Average(v => (v - mean) * (v - mean));
        return (mean, Math.Sqrt(variance));
    }
}
