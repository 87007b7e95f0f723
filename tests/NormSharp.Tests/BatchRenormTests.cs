using NormSharp.Autograd;
using NormSharp.Nn;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

/// <summary>
/// BatchRenorm1d/2d/3d: with rMax 1 and dMax 0 it is BatchNorm bit for bit (outputs, every gradient, running
/// statistics, over several steps); with the clipping active it matches a double-precision reference of the paper's
/// formula written here from scratch; gradients against finite differences where r and d are locally constant, and
/// against the stop-gradient definition elsewhere; evaluation, schedule and bad input.
/// </summary>
public class BatchRenormTests
{
    private static (BatchNormBase BatchNorm, BatchRenormBase Renorm) Pair(int rank, int channels, int channelAxis, bool affine, double? momentum) => rank switch
    {
        2 or 3 => (new BatchNorm1d(channels, momentum: momentum, affine: affine, channelAxis: channelAxis),
                   new BatchRenorm1d(channels, momentum: momentum, rMax: 1, dMax: 0, affine: affine, channelAxis: channelAxis)),
        4 => (new BatchNorm2d(channels, momentum: momentum, affine: affine, channelAxis: channelAxis),
              new BatchRenorm2d(channels, momentum: momentum, rMax: 1, dMax: 0, affine: affine, channelAxis: channelAxis)),
        _ => (new BatchNorm3d(channels, momentum: momentum, affine: affine, channelAxis: channelAxis),
              new BatchRenorm3d(channels, momentum: momentum, rMax: 1, dMax: 0, affine: affine, channelAxis: channelAxis)),
    };

    private static int[] Shape(int batch, int channels, int[] spatial, int channelAxis) =>
        channelAxis == 1 ? [batch, channels, .. spatial] : [batch, .. spatial, channels];

    public static TheoryData<int[], int, bool, string> EquivalenceCases() => new()
    {
        { [], 1, true, "0.1" }, { [5], 1, true, "null" }, { [3, 4], 1, true, "0.3" }, { [3, 4], -1, false, "0.1" },
        { [2, 3, 2], 1, true, "0.1" }, { [2, 2, 3], -1, true, "null" },
    };

    [Theory]
    [MemberData(nameof(EquivalenceCases))]
    public void With_rMax_1_and_dMax_0_it_is_batch_norm_bit_for_bit(int[] spatial, int channelAxis, bool affine, string momentum)
    {
        int channels = 3;
        double? m = momentum == "null" ? null : double.Parse(momentum, System.Globalization.CultureInfo.InvariantCulture);
        var (batchNorm, renorm) = Pair(spatial.Length + 2, channels, channelAxis, affine, m);
        if (affine)
        {
            new Generator(5).FillNormal(batchNorm.Weight!.AsSpan(), 1, 0.5);
            new Generator(6).FillNormal(batchNorm.Bias!.AsSpan());
            batchNorm.Weight.AsSpan().CopyTo(renorm.Weight!.AsSpan());
            batchNorm.Bias.AsSpan().CopyTo(renorm.Bias!.AsSpan());
        }
        for (int step = 0; step < 3; step++)
        {
            var shape = Shape(4, channels, spatial, channelAxis);
            var x = Leaf(100 + step, 2, 3, shape);
            var x2 = x.Detach().Clone();
            x2.RequiresGrad = true;
            var upstream = Tensor.Randn(new Generator(200 + step), shape);
            batchNorm.ZeroGrad();
            renorm.ZeroGrad();
            var expected = batchNorm.Forward(x);
            var actual = renorm.Forward(x2);
            expected.Backward(upstream);
            actual.Backward(upstream);
            Assert.Equal(expected.ToArray(), actual.ToArray());
            Assert.Equal(x.Grad!.ToArray(), x2.Grad!.ToArray());
            if (affine)
            {
                Assert.Equal(batchNorm.Weight!.Grad!.ToArray(), renorm.Weight!.Grad!.ToArray());
                Assert.Equal(batchNorm.Bias!.Grad!.ToArray(), renorm.Bias!.Grad!.ToArray());
            }
            Assert.Equal(batchNorm.RunningMean!.ToArray(), renorm.RunningMean!.ToArray());
            Assert.Equal(batchNorm.RunningVar!.ToArray(), renorm.RunningVar!.ToArray());
            Assert.Equal(batchNorm.NumBatchesTracked, renorm.NumBatchesTracked);
        }
        batchNorm.Eval();
        renorm.Eval();
        var probe = Tensor.Randn(new Generator(300), Shape(2, channels, spatial, channelAxis));
        Assert.Equal(batchNorm.Forward(probe).ToArray(), renorm.Forward(probe).ToArray());
    }

    /// <summary>
    /// The paper's Algorithm 1 in double, from the definition: per channel μB, σB = √(biased var + eps),
    /// σ = √(running var + eps), r = clip(σB/σ, 1/rMax, rMax), d = clip((μB − μ)/σ, −dMax, dMax),
    /// y = γ ((x − μB)/σB · r + d) + β. Channels first (N, C, L) as a flat array.
    /// </summary>
    private static double[] ReferenceRenorm(
        double[] x, int batch, int channels, int length, double[] weight, double[] bias, double[] runningMean, double[] runningVar,
        double rMax, double dMax, double eps, out double[] r, out double[] d)
    {
        var y = new double[x.Length];
        r = new double[channels];
        d = new double[channels];
        int count = batch * length;
        for (int c = 0; c < channels; c++)
        {
            var values = Enumerable.Range(0, batch).SelectMany(n => Enumerable.Range(0, length).Select(l => x[(n * channels + c) * length + l])).ToArray();
            double mean = values.Average();
            double variance = values.Sum(v => (v - mean) * (v - mean)) / count;
            double batchStd = Math.Sqrt(variance + eps), runningStd = Math.Sqrt(runningVar[c] + eps);
            r[c] = Math.Clamp(batchStd / runningStd, 1 / rMax, rMax);
            d[c] = Math.Clamp((mean - runningMean[c]) / runningStd, -dMax, dMax);
            for (int n = 0; n < batch; n++)
            {
                for (int l = 0; l < length; l++)
                {
                    int i = (n * channels + c) * length + l;
                    y[i] = weight[c] * ((x[i] - mean) / batchStd * r[c] + d[c]) + bias[c];
                }
            }
        }
        return y;
    }

    [Theory]
    [InlineData(3.0, 5.0)]
    [InlineData(1.5, 0.5)]
    [InlineData(1.0, 0.0)]
    public void Training_output_and_running_statistics_match_the_formula_in_double_with_clipping_active(double rMax, double dMax)
    {
        int batch = 3, channels = 4, length = 5;
        var renorm = new BatchRenorm1d(channels, momentum: 0.2, rMax: rMax, dMax: dMax);
        // Running statistics far from the batch's: channel 0 gets r clipped high and d clipped low, channel 1 r low and
        // d high, channel 2 inside the bounds at (3, 5), channel 3 close to the batch.
        float[] runningMean = [3f, -40f, 0.3f, 0.9f];
        float[] runningVar = [0.01f, 40f, 1.5f, 4f];
        runningMean.CopyTo(renorm.RunningMean!.AsSpan());
        runningVar.CopyTo(renorm.RunningVar!.AsSpan());
        new Generator(11).FillNormal(renorm.Weight!.AsSpan(), 1, 0.5);
        new Generator(12).FillNormal(renorm.Bias!.AsSpan());
        var x = Tensor.Randn(new Generator(13), batch, channels, length);
        for (int i = 0; i < x.Length; i++)
        {
            x.AsSpan()[i] = x.AsSpan()[i] * 2 + 1;
        }

        var expected = ReferenceRenorm(
            ToDoubles(x), batch, channels, length, ToDoubles(renorm.Weight), ToDoubles(renorm.Bias!),
            runningMean.Select(v => (double)v).ToArray(), runningVar.Select(v => (double)v).ToArray(), rMax, dMax, renorm.Eps, out var r, out var d);
        if (rMax > 1)
        {
            Assert.Equal(rMax, r[0]);
            Assert.Equal(1 / rMax, r[1]);
            Assert.Equal(-dMax, d[0]);
            Assert.Equal(dMax, d[1]);
        }
        var actual = renorm.Forward(x).ToArray();
        for (int i = 0; i < actual.Length; i++)
        {
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"element {i}: {actual[i]} vs {expected[i]}");
        }

        // The running statistics move as batch norm's, from the unbiased batch variance.
        var values = ToDoubles(x);
        for (int c = 0; c < channels; c++)
        {
            var channel = Enumerable.Range(0, batch).SelectMany(n => Enumerable.Range(0, length).Select(l => values[(n * channels + c) * length + l])).ToArray();
            double mean = channel.Average();
            double unbiased = channel.Sum(v => (v - mean) * (v - mean)) / (channel.Length - 1);
            Assert.Equal(0.8 * runningMean[c] + 0.2 * mean, renorm.RunningMean!.ToArray()[c], 1e-5);
            Assert.Equal(0.8 * runningVar[c] + 0.2 * unbiased, renorm.RunningVar!.ToArray()[c], 1e-4);
        }
        Assert.Equal(1, renorm.NumBatchesTracked);
    }

    private static double[] ToDoubles(Tensor t) => t.ToArray().Select(v => (double)v).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public void Gradients_match_finite_differences_where_the_clipping_holds_r_and_d_constant(int channelAxis)
    {
        // Running statistics so far from the batch's that r = rMax or 1/rMax and d = ±dMax in every channel, whatever the
        // small perturbations: there r and d are truly constant, and the stop-gradient backward is the exact gradient.
        int channels = 2;
        var renorm = new BatchRenorm2d(channels, rMax: 2, dMax: 1.5, channelAxis: channelAxis);
        new Generator(21).FillNormal(renorm.Weight!.AsSpan(), 1, 0.5);
        new Generator(22).FillNormal(renorm.Bias!.AsSpan());
        float[] runningMean = [6f, -20f];
        float[] runningVar = [0.05f, 30f];
        var shape = channelAxis == 1 ? new[] { 3, channels, 2, 2 } : [3, 2, 2, channels];
        var x = Leaf(23, 0, 1, shape);
        GradCheck.Check(t =>
        {
            runningMean.CopyTo(renorm.RunningMean!.AsSpan());
            runningVar.CopyTo(renorm.RunningVar!.AsSpan());
            return renorm.Forward(t[0]);
        }, [x, renorm.Weight!, renorm.Bias!], seed: 24);
    }

    [Fact]
    public void Gradients_inside_the_bounds_are_batch_norm_with_weight_gamma_r_and_bias_gamma_d_plus_beta()
    {
        // Inside the bounds r and d depend on the batch, and the paper's backward deliberately ignores that: the
        // gradient is that of batch norm with the per-channel affine (γ r, γ d + β) held fixed, in double here.
        int batch = 4, channels = 2, length = 3;
        var renorm = new BatchRenorm1d(channels);
        new Generator(31).FillNormal(renorm.Weight!.AsSpan(), 1, 0.5);
        new Generator(32).FillNormal(renorm.Bias!.AsSpan());
        float[] runningMean = [0.2f, -0.1f];
        float[] runningVar = [1.4f, 0.8f];
        runningMean.CopyTo(renorm.RunningMean!.AsSpan());
        runningVar.CopyTo(renorm.RunningVar!.AsSpan());
        var x = Leaf(33, 0, 1, batch, channels, length);
        var upstream = Tensor.Randn(new Generator(34), batch, channels, length);
        renorm.Forward(x).Backward(upstream);

        var weight = ToDoubles(renorm.Weight);
        var bias = ToDoubles(renorm.Bias!);
        var mean0 = runningMean.Select(v => (double)v).ToArray();
        var var0 = runningVar.Select(v => (double)v).ToArray();
        var x0 = ToDoubles(x);
        ReferenceRenorm(x0, batch, channels, length, weight, bias, mean0, var0, 3, 5, 1e-5, out var r, out var d);
        Assert.All(r, v => Assert.InRange(v, 1 / 3.0 + 1e-3, 3 - 1e-3));
        Assert.All(d, v => Assert.InRange(v, -5 + 1e-3, 5 - 1e-3));
        // Batch norm with γ r and γ d + β is renorm with r and d frozen at the unperturbed input's values.
        double[] Frozen(double[] input) => ReferenceRenorm(
            input, batch, channels, length, weight.Select((w, c) => w * r[c]).ToArray(), weight.Select((w, c) => w * d[c] + bias[c]).ToArray(),
            Enumerable.Repeat(0.0, channels).ToArray(), Enumerable.Repeat(1 - 1e-5, channels).ToArray(), 1, 0, 1e-5, out _, out _);
        CheckDoubleGradient(Frozen, x0, ToDoubles(upstream), ToDoubles(x.Grad!), "renorm input gradient", tolerance: 1e-4);
        var gradWeight = renorm.Weight!.Grad!.ToArray();
        var y = Frozen(x0);
        for (int c = 0; c < channels; c++)
        {
            // ∂L/∂γ = Σ dy · x̂ with x̂ = (y − β − γ d)/γ + d = (x − μB)/σB · r + d.
            double expected = 0;
            for (int n = 0; n < batch; n++)
            {
                for (int l = 0; l < length; l++)
                {
                    int i = (n * channels + c) * length + l;
                    expected += upstream.ToArray()[i] * ((y[i] - bias[c]) / weight[c]);
                }
            }
            Assert.Equal(expected, gradWeight[c], 1e-4);
        }
    }

    [Fact]
    public void Evaluation_uses_the_running_statistics_and_freezing_keeps_them()
    {
        var renorm = new BatchRenorm2d(2);
        var batchNorm = new BatchNorm2d(2);
        var x = Tensor.Randn(new Generator(41), 3, 2, 2, 2);
        renorm.Forward(x);
        batchNorm.Forward(x);
        renorm.Eval();
        batchNorm.Eval();
        Assert.Equal(batchNorm.Forward(x).ToArray(), renorm.Forward(x).ToArray());

        renorm.Train();
        renorm.FreezeStatistics = true;
        var before = renorm.RunningMean!.ToArray();
        Assert.Equal(batchNorm.Forward(x).ToArray(), renorm.Forward(x).ToArray());
        Assert.Equal(before, renorm.RunningMean!.ToArray());
        Assert.Equal(1, renorm.NumBatchesTracked);
    }

    [Fact]
    public void Sequential_fused_relu_runs_the_renorm_forward()
    {
        var renorm = new BatchRenorm1d(3, rMax: 1.2, dMax: 0.3);
        new Generator(51).FillNormal(renorm.RunningMean!.AsSpan(), 2, 1);
        var copy = new BatchRenorm1d(3, rMax: 1.2, dMax: 0.3);
        renorm.RunningMean.AsSpan().CopyTo(copy.RunningMean!.AsSpan());
        var x = Tensor.Randn(new Generator(52), 5, 3);
        var fused = new Sequential(renorm, new ReLU()).Forward(x);
        Assert.Equal(copy.Forward(x).Relu().ToArray(), fused.ToArray());
    }

    [Fact]
    public void Schedule_is_batch_norm_during_warm_up_then_ramps_linearly()
    {
        var schedule = new BatchRenormSchedule(WarmupSteps: 100, RMaxEndStep: 300, DMaxEndStep: 200);
        Assert.Equal((1.0, 0.0), (schedule.RMax(0), schedule.DMax(0)));
        Assert.Equal((1.0, 0.0), (schedule.RMax(100), schedule.DMax(100)));
        Assert.Equal(2.0, schedule.RMax(200), 1e-12);
        Assert.Equal(5.0, schedule.DMax(200), 1e-12);
        Assert.Equal(2.5, schedule.DMax(150), 1e-12);
        Assert.Equal((3.0, 5.0), (schedule.RMax(10_000), schedule.DMax(10_000)));
        var model = new Sequential(new Linear(2, 3), new BatchRenorm1d(3), new Sequential(new BatchRenorm1d(3)));
        schedule.Apply(model, 200);
        Assert.All(model.Modules().OfType<BatchRenormBase>(), layer => Assert.Equal((2.0, 5.0), (layer.RMax, layer.DMax)));
    }

    [Theory]
    [InlineData(0.99, 5.0, "rMax")]
    [InlineData(double.NaN, 5.0, "rMax")]
    [InlineData(3.0, -0.1, "dMax")]
    [InlineData(3.0, double.PositiveInfinity, "dMax")]
    public void Bad_bounds_throw_naming_the_value(double rMax, double dMax, string name)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new BatchRenorm2d(4, rMax: rMax, dMax: dMax));
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        var layer = new BatchRenorm2d(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.RMax = 0.5);
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.DMax = -1);
    }

    [Fact]
    public void Bad_input_throws_naming_the_shape()
    {
        var error = Assert.Throws<ArgumentException>(() => new BatchRenorm2d(4).Forward(Tensor.Zeros(2, 4, 3)));
        Assert.Contains("BatchRenorm2d expected 4-D input (N, C, H, W), got 3-D input of shape [2, 4, 3]", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<ArgumentException>(() => new BatchRenorm1d(4).Forward(Tensor.Zeros(1, 4)));
        Assert.Contains("more than 1 value per channel", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<ArgumentException>(() => new BatchRenorm2d(3).Forward(Tensor.Zeros(2, 5, 5, 3)));
        Assert.Contains("channelAxis: -1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_gradient_is_recorded_under_no_grad()
    {
        var renorm = new BatchRenorm1d(2);
        using var noGrad = new NoGrad();
        var y = renorm.Forward(Leaf(61, 0, 1, 4, 2));
        Assert.Null(y.GradFn);
    }
}
