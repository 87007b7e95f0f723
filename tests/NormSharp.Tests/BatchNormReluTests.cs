using NormSharp.Functional;
using NormSharp.Nn;

namespace NormSharp.Tests;

/// <summary>
/// The fused BatchNorm + ReLU path: Sequential fuses a batch-norm layer followed by ReLU, and the result must equal
/// running the two layers one after the other (values, every gradient, running statistics), in both layouts and modes.
/// </summary>
public class BatchNormReluTests
{
    [Theory]
    [InlineData(1, false)]
    [InlineData(-1, false)]
    [InlineData(1, true)]
    [InlineData(-1, true)]
    public void Sequential_fused_equals_batch_norm_then_relu(int channelAxis, bool eval)
    {
        int[] shape = channelAxis == 1 ? [3, 5, 7, 9] : [3, 7, 9, 5];
        var fusedNorm = new BatchNorm2d(5, channelAxis: channelAxis);
        var plainNorm = new BatchNorm2d(5, channelAxis: channelAxis);
        var g = new Generator(3);
        g.FillNormal(fusedNorm.Weight!.AsSpan(), 1, 0.5);
        g.FillNormal(fusedNorm.Bias!.AsSpan(), 0, 0.5);
        fusedNorm.Weight.AsSpan().CopyTo(plainNorm.Weight!.AsSpan());
        fusedNorm.Bias.AsSpan().CopyTo(plainNorm.Bias!.AsSpan());
        var fused = new Sequential(fusedNorm, new ReLU());
        var relu = new ReLU();
        if (eval)
        {
            // move the running statistics away from 0 / 1 first, identically in both
            var warm = Tensor.Randn(new Generator(4), shape);
            fused.Forward(warm);
            plainNorm.Forward(warm);
            fused.Eval();
            plainNorm.Eval();
        }

        var x1 = Tensor.Randn(new Generator(5), shape);
        var x2 = x1.Clone();
        x1.RequiresGrad = x2.RequiresGrad = true;
        var upstream = Tensor.Randn(new Generator(6), shape);
        var y1 = fused.Forward(x1);
        var y2 = relu.Forward(plainNorm.Forward(x2));
        Assert.Equal("BatchNormReLU", y1.GradFn!.Name);
        AssertClose(y2.ToArray(), y1.ToArray(), "y");
        y1.Backward(upstream);
        y2.Backward(upstream);
        AssertClose(x2.Grad!.ToArray(), x1.Grad!.ToArray(), "gradInput");
        AssertClose(plainNorm.Weight.Grad!.ToArray(), fusedNorm.Weight.Grad!.ToArray(), "gradWeight");
        AssertClose(plainNorm.Bias.Grad!.ToArray(), fusedNorm.Bias.Grad!.ToArray(), "gradBias");
        AssertClose(plainNorm.RunningMean!.ToArray(), fusedNorm.RunningMean!.ToArray(), "running mean");
        AssertClose(plainNorm.RunningVar!.ToArray(), fusedNorm.RunningVar!.ToArray(), "running var");
        Assert.Equal(plainNorm.NumBatchesTracked, fusedNorm.NumBatchesTracked);
    }

    [Fact]
    public void BatchNormRelu_gradients_match_central_differences()
    {
        var x = Tensor.Randn(new Generator(7), 4, 3, 5);
        var weight = Tensor.FromArray([1.2f, -0.7f, 0.9f], 3);
        var bias = Tensor.FromArray([0.1f, 0.3f, -0.2f], 3);
        x.RequiresGrad = weight.RequiresGrad = bias.RequiresGrad = true;
        GradCheck.Check(t => F.BatchNormRelu(t[0], null, null, t[1], t[2], training: true), [x, weight, bias], seed: 8);
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * (1 + Math.Abs(expected[i])),
                $"{what} at {i}: unfused {expected[i]:G9}, fused {actual[i]:G9}");
        }
    }
}
