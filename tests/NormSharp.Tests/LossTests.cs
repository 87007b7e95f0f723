using NormSharp.Functional;
using NormSharp.Nn;

namespace NormSharp.Tests;

public class LossTests
{
    /// <summary>PyTorch's formula in double: mean_n [(1 − ε)·(−log p[n, t]) + ε·mean_c(−log p[n, c])].</summary>
    private static double ReferenceCrossEntropy(float[] logits, int classes, int[] targets, double smoothing)
    {
        double total = 0;
        for (int n = 0; n < targets.Length; n++)
        {
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++)
            {
                max = Math.Max(max, logits[n * classes + c]);
            }
            double sum = 0;
            for (int c = 0; c < classes; c++)
            {
                sum += Math.Exp(logits[n * classes + c] - max);
            }
            double logSum = max + Math.Log(sum);
            double smooth = 0;
            for (int c = 0; c < classes; c++)
            {
                smooth += logSum - logits[n * classes + c];
            }
            total += (1 - smoothing) * (logSum - logits[n * classes + targets[n]]) + smoothing * smooth / classes;
        }
        return total / targets.Length;
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    [InlineData(1.0)]
    public void Cross_entropy_matches_reference(double smoothing)
    {
        var logits = Tensor.Randn(new Generator(1), 5, 4) * 3f;
        int[] targets = [0, 3, 1, 1, 2];
        var loss = F.CrossEntropy(logits, targets, smoothing);
        Assert.Empty(loss.Shape);
        Assert.Equal(ReferenceCrossEntropy(logits.ToArray(), 4, targets, smoothing), loss.Item(), tolerance: 1e-5);
        Assert.Equal(loss.Item(), new CrossEntropyLoss(smoothing).Forward(logits, targets).Item());
    }

    [Fact]
    public void Cross_entropy_hand_computed_value()
    {
        // Uniform logits: p = 1/C for every class, so the loss is log C whatever the target or the smoothing.
        var logits = Tensor.Zeros(3, 5);
        Assert.Equal(Math.Log(5), F.CrossEntropy(logits, [0, 4, 2]).Item(), tolerance: 1e-6);
        Assert.Equal(Math.Log(5), F.CrossEntropy(logits, [0, 4, 2], 0.3).Item(), tolerance: 1e-6);
        // Two classes, logits (0, ln 3): p = (1/4, 3/4); target 1 → −log(3/4).
        var two = Tensor.FromArray([0f, (float)Math.Log(3)], 1, 2);
        Assert.Equal(-Math.Log(0.75), F.CrossEntropy(two, [1]).Item(), tolerance: 1e-6);
    }

    [Fact]
    public void Cross_entropy_is_stable_for_large_logits()
    {
        var logits = Tensor.FromArray([1000f, 0f, -1000f, 500f, 501f, 499f], 2, 3);
        var loss = F.CrossEntropy(logits, [0, 2]);
        Assert.True(float.IsFinite(loss.Item()));
        Assert.Equal(ReferenceCrossEntropy(logits.ToArray(), 3, [0, 2], 0), loss.Item(), tolerance: 1e-4);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.2)]
    public void Cross_entropy_gradient_matches_finite_differences(double smoothing)
    {
        var logits = GradCheck.RandomLeaf(3, 6, 5);
        GradCheck.Check(t => F.CrossEntropy(t[0], [4, 0, 2, 2, 1, 3], smoothing) * 3f, [logits]);
    }

    [Fact]
    public void Cross_entropy_gradient_is_softmax_minus_smoothed_one_hot_over_batch()
    {
        var logits = GradCheck.RandomLeaf(9, 2, 3);
        F.CrossEntropy(logits, [2, 0], 0.3).Backward();
        var p = F.Softmax(logits.Detach()).ToArray();
        var grad = logits.Grad!.ToArray();
        for (int n = 0; n < 2; n++)
        {
            for (int c = 0; c < 3; c++)
            {
                double target = 0.3 / 3 + (c == (n == 0 ? 2 : 0) ? 0.7 : 0);
                Assert.Equal((p[n * 3 + c] - target) / 2, grad[n * 3 + c], tolerance: 1e-6);
            }
        }
    }

    [Fact]
    public void Target_out_of_range_names_index_value_and_class_count()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(Tensor.Zeros(3, 4), [0, 7, 1]));
        Assert.Contains("Target 7", ex.Message, StringComparison.Ordinal);
        Assert.Contains("index 1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("4 classes", ex.Message, StringComparison.Ordinal);
        Assert.Equal(7, ex.ActualValue);
        Assert.Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(Tensor.Zeros(1, 4), [-1]));
    }

    [Fact]
    public void Batch_size_mismatch_names_both_sizes()
    {
        var ex = Assert.Throws<ArgumentException>(() => new CrossEntropyLoss().Forward(Tensor.Zeros(3, 4), [0, 1]));
        Assert.Contains("expected 3 targets", ex.Message, StringComparison.Ordinal);
        Assert.Contains("got 2 targets", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => F.CrossEntropy(Tensor.Zeros(3, 4, 2), [0, 1, 2]));
        Assert.Contains("[3, 4, 2]", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEntropyLoss(labelSmoothing: 1.5));
    }

    [Fact]
    public void Mse_matches_hand_computed_value()
    {
        var input = Tensor.FromArray([1, 2, 3, 4], 2, 2);
        var target = Tensor.FromArray([1, 0, 5, 1], 2, 2);
        // (0 + 4 + 4 + 9) / 4
        Assert.Equal(4.25f, F.MseLoss(input, target).Item());
        Assert.Equal(4.25f, new MSELoss().Forward(input, target).Item());
    }

    [Fact]
    public void Mse_gradients_match_finite_differences_for_input_and_target()
    {
        var input = GradCheck.RandomLeaf(1, 3, 4);
        var target = GradCheck.RandomLeaf(2, 3, 4);
        GradCheck.Check(t => F.MseLoss(t[0], t[1]) * 5f, [input, target]);
    }

    [Fact]
    public void Mse_shape_mismatch_names_both_shapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => F.MseLoss(Tensor.Zeros(2, 3), Tensor.Zeros(3, 2)));
        Assert.Contains("[2, 3]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[3, 2]", ex.Message, StringComparison.Ordinal);
    }
}
