using System.Runtime.CompilerServices;
using NormSharp.Autograd;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// Cross-entropy from logits with class-index targets, mean over the batch (PyTorch's <c>cross_entropy</c>,
    /// reduction 'mean'):
    /// loss = (1/W) Σ_n [(1 − ε)·w[t_n]·(−log p[n, t_n]) + (ε/C) Σ_c w[c]·(−log p[n, c])],  p = softmax(logits) along
    /// classes, W = Σ_n w[t_n], with ε = <paramref name="labelSmoothing"/> (0 = plain cross-entropy) and class weights
    /// w (all 1 by default, then W = N). The log-softmax is computed stably (max subtracted, log-sum-exp in double).
    /// Backward, closed form: d logits[n, j] = (p[n, j]·((1 − ε)·w[t_n] + (ε/C)·Σ_c w[c]) − (1 − ε)·w[t_n]·[j = t_n] − (ε/C)·w[j]) / W,
    /// which is (p − q) / N with the smoothed target q[n, c] = (1 − ε)·[c = t_n] + ε / C when unweighted.
    /// </summary>
    /// <param name="logits">[N, C] unnormalized scores.</param>
    /// <param name="targets">N class indices in [0, C).</param>
    /// <param name="labelSmoothing">ε in [0, 1], default 0.</param>
    /// <param name="weight">Optional [C] class weights (PyTorch's <c>weight</c>), e.g. inverse class frequencies; not differentiated.</param>
    /// <returns>A scalar (shape []).</returns>
    /// <exception cref="ArgumentException">Logits are not 2-D, the batch sizes of logits and targets differ, or the weight is not [C].</exception>
    /// <exception cref="ArgumentOutOfRangeException">A target is outside [0, C), or ε is outside [0, 1].</exception>
    public static Tensor CrossEntropy(Tensor logits, int[] targets, double labelSmoothing = 0, Tensor? weight = null)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        CheckLabelSmoothing(labelSmoothing);
        if (logits.Rank != 2)
        {
            throw new ArgumentException(
                $"CrossEntropy expected 2-D logits [N, C], got {logits.Rank}-D shape {ShapeUtil.Format(logits.ShapeSpan)}.", nameof(logits));
        }
        int batch = logits.Size(0), classes = logits.Size(1);
        if (targets.Length != batch)
        {
            throw new ArgumentException(
                $"CrossEntropy expected {batch} targets for logits of shape {ShapeUtil.Format(logits.ShapeSpan)} (batch size {batch}), got {targets.Length} targets.", nameof(targets));
        }
        CheckTargets(targets, classes);
        return new CrossEntropyFunction(labelSmoothing, ClassWeights("CrossEntropy", weight, classes)).Forward(logits, targets);
    }

    /// <summary>
    /// Mean squared error, mean over all elements (PyTorch's <c>mse_loss</c>, reduction 'mean'):
    /// loss = (1/n) Σ (input − target)². Backward: d input = 2·(input − target)/n, d target = −d input.
    /// </summary>
    /// <param name="input">Any shape.</param>
    /// <param name="target">The same shape as <paramref name="input"/> (no broadcasting).</param>
    /// <returns>A scalar (shape []).</returns>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public static Tensor MseLoss(Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        CheckSameShape("MseLoss", input, target);
        return new MseLossFunction().Forward(input, target);
    }

    /// <exception cref="ArgumentException">The target's shape differs from the input's (no broadcasting in losses).</exception>
    private static void CheckSameShape(string op, Tensor input, Tensor target)
    {
        if (!ShapeUtil.Equal(input.ShapeSpan, target.ShapeSpan))
        {
            throw new ArgumentException(
                $"{op} expected target of the input's shape {ShapeUtil.Format(input.ShapeSpan)}, got {ShapeUtil.Format(target.ShapeSpan)}.", nameof(target));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CheckTargets(int[] targets, int classes)
    {
        for (int n = 0; n < targets.Length; n++)
        {
            if ((uint)targets[n] >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), targets[n],
                    $"Target {targets[n]} at index {n} is out of range for {classes} classes (expected 0 <= target < {classes}).");
            }
        }
    }

    /// <summary>The class weights as doubles, all 1 when <paramref name="weight"/> is null.</summary>
    private static double[] ClassWeights(string op, Tensor? weight, int classes)
    {
        if (weight is null)
        {
            return [.. Enumerable.Repeat(1.0, classes)];
        }
        if (weight.Rank != 1 || weight.Length != classes)
        {
            throw new ArgumentException(
                $"{op} expected a class weight of shape [{classes}], got shape {ShapeUtil.Format(weight.ShapeSpan)}.", nameof(weight));
        }
        return [.. weight.ToArray().Select(w => (double)w)];
    }

    internal static void CheckLabelSmoothing(double labelSmoothing)
    {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, $"Label smoothing must be in [0, 1], got {labelSmoothing}.");
        }
    }

    private sealed class CrossEntropyFunction(double labelSmoothing, double[] weight) : Function
    {
        private float[] probabilities = [];
        private int[] targets = [];
        private double totalWeight;

        public override string Name => "CrossEntropy";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Tensor Forward(Tensor logits, int[] targets)
        {
            int batch = logits.Size(0), classes = logits.Size(1);
            var x = logits.Data;
            var softmax = RentForBackward(x.Length);
            double total = 0;
            totalWeight = 0;
            for (int n = 0; n < batch; n++)
            {
                var row = x.Slice(n * classes, classes);
                double logSum = SoftmaxRow(row, classes, 1, log: false, softmax.AsSpan(n * classes, classes));
                // −log p_c = logSum − x_c, so the weighted sum over classes of −log p is logSum·Σw − Σ w·x.
                double weightSum = 0, weightedRow = 0;
                for (int c = 0; c < classes; c++)
                {
                    weightSum += weight[c];
                    weightedRow += weight[c] * row[c];
                }
                double targetWeight = weight[targets[n]];
                double negativeLogLikelihood = logSum - row[targets[n]];
                double smooth = (logSum * weightSum - weightedRow) / classes;
                total += (1 - labelSmoothing) * targetWeight * negativeLogLikelihood + labelSmoothing * smooth;
                totalWeight += targetWeight;
            }
            var output = Tensor.Scalar((float)(total / totalWeight));
            var result = Record(output, logits);
            if (result.GradFn == this)
            {
                probabilities = softmax;
                this.targets = (int[])targets.Clone();
            }
            return result;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override Tensor?[] Backward(Tensor gradOutput)
        {
            int batch = targets.Length, classes = batch == 0 ? 0 : probabilities.Length / batch;
            double scale = gradOutput.Item() / totalWeight;
            double smoothing = labelSmoothing / Math.Max(1, classes), weightSum = weight.Sum();
            var gradInput = Tensor.Zeros(batch, classes);
            var dx = gradInput.AsSpan();
            for (int n = 0; n < batch; n++)
            {
                double targetWeight = (1 - labelSmoothing) * weight[targets[n]];
                double probabilityScale = targetWeight + smoothing * weightSum;
                for (int c = 0; c < classes; c++)
                {
                    int at = n * classes + c;
                    double target = smoothing * weight[c] + (c == targets[n] ? targetWeight : 0);
                    dx[at] = (float)(scale * (probabilities[at] * probabilityScale - target));
                }
            }
            return [gradInput];
        }
    }

    private sealed class MseLossFunction : Function
    {
        public override string Name => "MseLoss";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Tensor Forward(Tensor input, Tensor target)
        {
            var x = input.Data;
            var y = target.Data;
            double sum = 0;
            for (int i = 0; i < x.Length; i++)
            {
                double difference = (double)x[i] - y[i];
                sum += difference * difference;
            }
            SaveForBackward(input, target);
            return Record(Tensor.Scalar((float)(sum / x.Length)), input, target);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var input = SavedTensors[0];
            var target = SavedTensors[1];
            var x = input.Data;
            var y = target.Data;
            double scale = 2.0 * gradOutput.Item() / x.Length;
            var gradInput = Tensor.Zeros(input.Shape);
            var dx = gradInput.AsSpan();
            for (int i = 0; i < dx.Length; i++)
            {
                dx[i] = (float)(scale * ((double)x[i] - y[i]));
            }
            Tensor? gradTarget = null;
            if (NeedsInputGrad[1])
            {
                gradTarget = Tensor.Zeros(target.Shape);
                var dt = gradTarget.AsSpan();
                for (int i = 0; i < dt.Length; i++)
                {
                    dt[i] = -dx[i];
                }
            }
            return [NeedsInputGrad[0] ? gradInput : null, gradTarget];
        }
    }
}
